import type { Attributes, Counter, Histogram, Meter, ObservableGauge, UpDownCounter } from "@opentelemetry/api";
import type { LifecycleEvent } from "../lifecycle.ts";
import { ATTR, safeName } from "./attributes.ts";

/**
 * The metrics, one or two per lifecycle event. Durations are histograms in seconds (never a
 * running average); labels are low-cardinality names only: provider, profile, cache hit,
 * `error.type`, outcome. Users and tokens are never labels.
 */
export interface TokenMetrics {
  requests: Counter;
  denials: Counter;
  rateLimitDecisions: Counter;
  cacheHits: Counter;
  mintAttempts: Counter;
  mintRetries: Counter;
  mintDuration: Histogram;
  issued: Counter;
  started: Counter;
  sessionFailures: Counter;
  discarded: Counter;
  activeSessions: UpDownCounter;
  sessionDuration: Histogram;
  evictions: Counter;
  failures: Counter;
  sessionLimitRefusals: Counter;
  leases: Counter;
  flightWaits: Histogram;
}

/** What a lease went through, on `tollgate.session.leases`: `taken`, `released` or `lapsed`. */
export const LEASE_EVENT_ATTRIBUTE = "tollgate.lease.event";

/** Waits for another server's mint: a round trip or two, up to the upstream's own latency. */
const FLIGHT_WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Bucket edges for an upstream call, as the HTTP semantic conventions recommend for durations. */
const MINT_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Realtime sessions last seconds to an hour or two. */
const SESSION_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200];

// One set per meter: the handler and its issuer share it rather than registering twice.
const metricsByMeter = new WeakMap<Meter, TokenMetrics>();

export function tokenMetrics(meter: Meter): TokenMetrics {
  let existing = metricsByMeter.get(meter);
  if (!existing) {
    existing = createTokenMetrics(meter);
    metricsByMeter.set(meter, existing);
  }
  return existing;
}

function createTokenMetrics(meter: Meter): TokenMetrics {
  return {
    requests: meter.createCounter("tollgate.token.requests", { unit: "{request}", description: "Token requests received." }),
    denials: meter.createCounter("tollgate.token.denials", { unit: "{request}", description: "Token requests refused by authentication (401) or authorization (403)." }),
    rateLimitDecisions: meter.createCounter("tollgate.rate_limit.decisions", { unit: "{decision}", description: "Rate-limit decisions on token requests, by outcome (allowed or rejected)." }),
    cacheHits: meter.createCounter("tollgate.cache.hits", { unit: "{token}", description: "Token requests answered from the reuse cache." }),
    mintAttempts: meter.createCounter("tollgate.upstream.mint.attempts", { unit: "{attempt}", description: "Upstream mint attempts, first attempts and retries." }),
    mintRetries: meter.createCounter("tollgate.upstream.mint.retries", { unit: "{retry}", description: "Upstream mint attempts that failed and were retried, by error.type." }),
    mintDuration: meter.createHistogram("tollgate.upstream.mint.duration", {
      unit: "s",
      description: "Time to mint a token upstream, all attempts and waits between them included.",
      advice: { explicitBucketBoundaries: MINT_DURATION_BUCKETS },
    }),
    issued: meter.createCounter("tollgate.tokens.issued", { unit: "{token}", description: "Tokens handed to clients, minted or reused." }),
    started: meter.createCounter("tollgate.tokens.used", { unit: "{token}", description: "Tokens that started a session, as reported by the client." }),
    sessionFailures: meter.createCounter("tollgate.sessions.failed", { unit: "{session}", description: "Tokens the provider refused when a session started, as reported by the client." }),
    discarded: meter.createCounter("tollgate.tokens.discarded", { unit: "{token}", description: "Tokens the client let go without starting a session, as reported by the client." }),
    activeSessions: meter.createUpDownCounter("tollgate.sessions.active", { unit: "{session}", description: "Sessions started and not yet reported ended." }),
    sessionDuration: meter.createHistogram("tollgate.session.duration", {
      unit: "s",
      description: "Length of ended sessions, as reported by the client.",
      advice: { explicitBucketBoundaries: SESSION_DURATION_BUCKETS },
    }),
    evictions: meter.createCounter("tollgate.cache.evictions", { unit: "{token}", description: "Tokens removed from the reuse cache, by reason." }),
    failures: meter.createCounter("tollgate.token.failures", { unit: "{request}", description: "Requests that ended without a token for a reason other than a denial or a rate limit, by error.type." }),
    sessionLimitRefusals: meter.createCounter("tollgate.sessions.limited", { unit: "{request}", description: "Token requests refused because the user held as many session leases as allowed." }),
    leases: meter.createCounter("tollgate.session.leases", { unit: "{lease}", description: "Session leases taken, released and lapsed, by tollgate.lease.event." }),
    flightWaits: meter.createHistogram("tollgate.flight.wait.duration", {
      unit: "s",
      description: "Time a request waited for the token another server was minting for the same key.",
      advice: { explicitBucketBoundaries: FLIGHT_WAIT_BUCKETS },
    }),
  };
}

/** The labels every point of an event carries: its provider and profile, when known. */
function baseLabels(event: LifecycleEvent): Attributes {
  const labels: Attributes = {};
  if (event.provider !== undefined) labels[ATTR.provider] = event.provider;
  if (event.profile !== undefined) labels[ATTR.profile] = safeName(event.profile);
  return labels;
}

function failureLabels(labels: Attributes, event: LifecycleEvent): Attributes {
  return { ...labels, [ATTR.errorType]: safeName(event.errorType) ?? "unknown" };
}

/** Records the metric points that `event` stands for. */
export function recordEventMetrics(metrics: TokenMetrics, event: LifecycleEvent): void {
  const labels = baseLabels(event);

  // A request that passed its limits says so on its last event, issued or failed.
  if (event.rateLimit === "allowed" && (event.name === "issued" || event.name === "failed")) {
    metrics.rateLimitDecisions.add(1, { ...labels, [ATTR.rateLimitOutcome]: "allowed" });
  }

  switch (event.name) {
    case "requested":
      return metrics.requests.add(1, labels);
    case "denied":
      return metrics.denials.add(1, failureLabels(labels, event));
    case "rate_limited": {
      const attributes: Attributes = { ...labels, [ATTR.rateLimitOutcome]: "rejected" };
      if (event.limit !== undefined) attributes[ATTR.rateLimitName] = safeName(event.limit);
      return metrics.rateLimitDecisions.add(1, attributes);
    }
    case "cache_hit":
      return metrics.cacheHits.add(1, labels);
    case "minting":
      return metrics.mintAttempts.add(1, labels);
    case "retried":
      return metrics.mintRetries.add(1, failureLabels(labels, event));
    case "minted":
      if (event.durationMs !== undefined) metrics.mintDuration.record(event.durationMs / 1000, labels);
      return;
    case "issued":
      return metrics.issued.add(1, { ...labels, [ATTR.cacheHit]: event.cacheHit === true });
    case "started":
      metrics.started.add(1, labels);
      return metrics.activeSessions.add(1, labels);
    case "ended":
      metrics.activeSessions.add(-1, labels);
      if (event.durationMs !== undefined) metrics.sessionDuration.record(event.durationMs / 1000, labels);
      return;
    case "session_failed":
      return metrics.sessionFailures.add(1, labels);
    case "discarded":
      return metrics.discarded.add(1, labels);
    case "evicted":
      return metrics.evictions.add(1, { ...labels, [ATTR.evictionReason]: safeName(event.reason) ?? "unknown" });
    case "failed":
      return metrics.failures.add(1, failureLabels(labels, event));
    case "session_limited":
      return metrics.sessionLimitRefusals.add(1, labels);
    case "lease_taken":
      return metrics.leases.add(1, { ...labels, [LEASE_EVENT_ATTRIBUTE]: "taken" });
    case "lease_released":
      return metrics.leases.add(1, { ...labels, [LEASE_EVENT_ATTRIBUTE]: "released" });
    case "lease_lapsed":
      return metrics.leases.add(1, { ...labels, [LEASE_EVENT_ATTRIBUTE]: "lapsed" });
    case "flight_waited":
      if (event.durationMs !== undefined) metrics.flightWaits.record(event.durationMs / 1000, labels);
      return;
  }
}

// One gauge per meter, however many issuers read leases through it.
const leaseGauges = new WeakMap<Meter, { gauge: ObservableGauge; readers: Set<() => Promise<Record<string, number>>> }>();

/**
 * `tollgate.sessions.leased`: the live session leases per profile, read from the lease store at
 * each collection, so every server sharing a store reports the same figure. Returns a function
 * that stops reading through `read`.
 */
export function observeActiveLeases(meter: Meter, read: () => Promise<Record<string, number>>): () => void {
  let entry = leaseGauges.get(meter);
  if (!entry) {
    const gauge = meter.createObservableGauge("tollgate.sessions.leased", { unit: "{lease}", description: "Live session leases per profile, as the shared store holds them for every server." });
    const readers = new Set<() => Promise<Record<string, number>>>();
    gauge.addCallback(async (result) => {
      for (const reader of readers) {
        // A store that cannot answer now leaves this collection without a point, not with a wrong one.
        const counts = await reader().catch(() => undefined);
        for (const [profile, count] of Object.entries(counts ?? {})) result.observe(count, { [ATTR.profile]: safeName(profile) });
      }
    });
    entry = { gauge, readers };
    leaseGauges.set(meter, entry);
  }
  entry.readers.add(read);
  const readers = entry.readers;
  return () => readers.delete(read);
}
