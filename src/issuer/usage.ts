import type { UsageEvent } from "../wire.ts";
import type { TokenRecord } from "./records.ts";

/**
 * What a client's usage report does to a token's record: the record after it, the lifecycle events
 * it stands for, whether the token leaves the reuse cache, and what becomes of its session lease.
 * No store and no telemetry here, so the rules can be read (and tested) in one place.
 */

/** Why a token leaves the reuse cache when a report comes in. */
export type EvictionReason = "started" | "failed" | "ended" | "discarded";

export interface ReportOutcome {
  record: TokenRecord;
  /** The lifecycle events to emit, in order. */
  events: Array<"started" | "ended" | "session_failed" | "discarded">;
  /** Set when the token must never be handed out again from now on. */
  evict?: EvictionReason;
  /** `release`: the lease is given back (and why); `started`: it now runs for the session's maximum length. */
  lease?: { release: "ended" | "failed" | "discarded" } | "started";
}

/**
 * The outcome of `event` (with the session id the client saw, if any) on `record`, or undefined
 * when it changes nothing: reports are idempotent, and each step of a token's life counts once
 * however often it is told.
 */
export function applyReport(record: TokenRecord, event: UsageEvent, sessionId?: string): ReportOutcome | undefined {
  const next: TokenRecord = { ...record };
  const events: ReportOutcome["events"] = [];
  const start = () => {
    if (next.started) return;
    next.started = true;
    if (sessionId) next.sessionId = sessionId;
    events.push("started");
  };

  if (event === "started" && !record.ended && !record.failed) start();
  // A session that started and then failed has ended; `failed` before a start means the provider
  // refused the token. An end implies a start, even when the start was never reported.
  if ((event === "ended" || (event === "failed" && record.started)) && !record.ended) {
    start();
    next.ended = true;
    events.push("ended");
  }
  if (event === "failed" && !record.started && !record.failed) {
    next.failed = true;
    events.push("session_failed");
  }
  // The client let the token go unused (a prefetched token it refreshed): once, and only before anything else.
  if (event === "discarded" && !record.started && !record.ended && !record.failed && !record.discarded) {
    next.discarded = true;
    events.push("discarded");
  }
  if (events.length === 0) return undefined;

  const newly = (step: UsageEvent) => next[step] === true && record[step] !== true;
  // A discarded token left the cache and gave its lease back then: a start reported after it is
  // counted, but holds no lease and has no entry to evict.
  const holdsLease = record.lease !== undefined && !record.discarded;
  const releases = holdsLease && (newly("ended") || newly("failed") || newly("discarded"));
  return {
    record: next,
    events,
    evict: record.discarded ? undefined : evictionFor(record, newly, releases),
    lease: releases ? { release: newly("discarded") ? "discarded" : newly("failed") ? "failed" : "ended" } : holdsLease && newly("started") ? "started" : undefined,
  };
}

/**
 * A token that failed or was discarded is never handed out again; nor a single-use token that
 * started; nor, with leases, a token whose session ended, since handed out again it would hold no lease.
 */
function evictionFor(record: TokenRecord, newly: (step: "started" | "failed" | "discarded") => boolean, releasesLease: boolean): EvictionReason | undefined {
  if (newly("discarded")) return "discarded";
  if (newly("failed")) return "failed";
  if (newly("started") && record.tokenUse === "single-use") return "started";
  if (releasesLease) return "ended";
  return undefined;
}
