/** The rules of a usage report on a token's record (src/issuer/usage.ts), one step at a time. */
import { describe, expect, it } from "vitest";
import type { TokenRecord } from "../../src/issuer/records.ts";
import { applyReport } from "../../src/issuer/usage.ts";
import type { UsageEvent } from "../../src/wire.ts";

const fresh = (changes: Partial<TokenRecord> = {}): TokenRecord => ({
  owner: "owner",
  reuseKey: "reuse:1",
  provider: "anam",
  profile: "support",
  tokenUse: "single-use",
  expiresAt: 0,
  maxSessionMs: 3_600_000,
  lease: "lease-1",
  ...changes,
});

/** The record after each report in turn, and the outcomes along the way. */
function after(record: TokenRecord, ...reports: UsageEvent[]) {
  const outcomes = [];
  for (const event of reports) {
    const outcome = applyReport(record, event, "session-1");
    outcomes.push(outcome);
    if (outcome) record = outcome.record;
  }
  return { record, outcomes };
}

describe("a usage report", () => {
  it("starts a single-use token once: evicted, its lease running for the session", () => {
    const outcome = applyReport(fresh(), "started", "session-1")!;
    expect(outcome).toEqual({ record: { ...fresh(), started: true, sessionId: "session-1" }, events: ["started"], evict: "started", lease: "started" });
    expect(applyReport(outcome.record, "started", "session-2")).toBeUndefined();
  });

  it("starts a reusable token without evicting it", () => {
    expect(applyReport(fresh({ tokenUse: "reusable" }), "started")).toMatchObject({ events: ["started"], evict: undefined, lease: "started" });
  });

  it("ends a session once, implying a start that was never reported, and frees the lease", () => {
    const { record, outcomes } = after(fresh({ tokenUse: "reusable" }), "ended", "ended");
    expect(outcomes[0]).toMatchObject({ events: ["started", "ended"], evict: "ended", lease: { release: "ended" } });
    expect(outcomes[1]).toBeUndefined();
    expect(record).toMatchObject({ started: true, ended: true });
  });

  it("takes a failure before a start as the provider refusing the token, and after one as the session's end", () => {
    expect(applyReport(fresh(), "failed")).toMatchObject({ events: ["session_failed"], evict: "failed", lease: { release: "failed" } });
    const { outcomes } = after(fresh(), "started", "failed");
    expect(outcomes[1]).toMatchObject({ events: ["ended"], evict: "ended", lease: { release: "ended" } });
  });

  it("ignores a start after the token failed", () => {
    expect(after(fresh(), "failed", "started").outcomes[1]).toBeUndefined();
  });

  it("discards an unused token once; after a start, a discard changes nothing", () => {
    const { record, outcomes } = after(fresh(), "discarded", "discarded");
    expect(outcomes[0]).toMatchObject({ events: ["discarded"], evict: "discarded", lease: { release: "discarded" } });
    expect(outcomes[1]).toBeUndefined();
    expect(record.discarded).toBe(true);
    expect(after(fresh(), "started", "discarded").outcomes[1]).toBeUndefined();
  });

  it("counts a start after a discard, with no lease to run and nothing to evict", () => {
    expect(after(fresh(), "discarded", "started").outcomes[1]).toMatchObject({ events: ["started"], evict: undefined, lease: undefined });
  });

  it("leaves leases alone for a token minted without one", () => {
    expect(applyReport(fresh({ lease: undefined, tokenUse: "reusable" }), "ended")).toMatchObject({ events: ["started", "ended"], evict: undefined, lease: undefined });
    expect(applyReport(fresh({ lease: undefined }), "started")).toMatchObject({ evict: "started", lease: undefined });
  });
});
