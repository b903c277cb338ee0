import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "../src/providers/http.ts";
import { RetryBudget, backoffDelay, resolveRetryOptions } from "../src/retry.ts";

// The arithmetic of retries: backoff, Retry-After and the retry budget.

describe("retry timing", () => {
  it("draws backoff uniformly under a doubling, capped ceiling", () => {
    const highest = resolveRetryOptions({ baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, highest))).toEqual([99, 199, 399, 799, 999]);
    const lowest = resolveRetryOptions({ random: () => 0 });
    expect(backoffDelay(3, lowest)).toBe(0);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("7")).toBe(7_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(inTenSeconds)).toBeGreaterThan(8_000);
    expect(parseRetryAfter(inTenSeconds)).toBeLessThanOrEqual(10_000);
  });
});

describe("the retry budget", () => {
  it("refills its floor with time, so that after an idle spell a transient failure still gets its retry", () => {
    let now = 0;
    const budget = new RetryBudget(0.2, 2, () => now);
    expect([budget.tryWithdraw(), budget.tryWithdraw(), budget.tryWithdraw()]).toEqual([true, true, false]);
    now += 1_000;
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it("lets traffic earn retries beyond the floor, a quarter of a retry per first attempt here", () => {
    const budget = new RetryBudget(0.25, 1, () => 0);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    for (let i = 0; i < 8; i++) budget.recordAttempt();
    expect([budget.tryWithdraw(), budget.tryWithdraw(), budget.tryWithdraw()]).toEqual([true, true, false]);
  });
});
