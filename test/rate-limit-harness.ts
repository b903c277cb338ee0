/**
 * Property checks shared by every rate-limit store's tests: the same random traffic, the same
 * guarantees, whether the store is memory, Redis or another. Assertions use node:assert, so the
 * Deno KV test under Deno runs the very same checks.
 *
 * What "never more than its limit within a window" means for each algorithm:
 * - fixed window: per key, the units admitted inside one aligned window add up to at most `limit`;
 * - sliding window: per key, the units admitted in any span of `windowMs` add up to at most `limit`;
 * - token bucket: per key, the units admitted from time a to time b add up to at most
 *   `limit + (b - a) × limit / windowMs`: one full bucket plus what refills meanwhile. (Over a whole
 *   window that is up to twice the limit; that burst is what a token bucket is for.)
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../src/rate-limit/types.ts";

export interface Clock {
  now: number;
}

/** A store under test, reading the given clock for every decision. */
export type StoreFactory = (clock: Clock) => Promise<RateLimitStore> | RateLimitStore;

interface Request {
  key: number;
  cost: number;
}

interface Step {
  /** How far the clock moves before the batch. */
  advanceMs: number;
  /** Requests sent together: in order to a synchronous store, concurrently to a networked one. */
  batch: Request[];
}

export interface Scenario {
  rule: RateLimitRule;
  startAt: number;
  steps: Step[];
}

const ALGORITHMS: RateLimitAlgorithm[] = ["fixed-window", "sliding-window", "token-bucket"];

export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .record({
    algorithm: fc.constantFrom(...ALGORITHMS),
    limit: fc.integer({ min: 1, max: 8 }),
    windowMs: fc.constantFrom(1_000, 7_000, 60_000),
  })
  .chain((rule) =>
    fc.record({
      rule: fc.constant(rule),
      // Any moment, so that windows start at every possible offset.
      startAt: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
      steps: fc.array(
        fc.record({
          // Mostly small steps that stay inside a window, some that cross one or several.
          // Exact window lengths and off-by-ones, where boundary mistakes show.
          advanceMs: fc.oneof(
            fc.integer({ min: 0, max: 50 }),
            fc.integer({ min: 0, max: rule.windowMs }),
            fc.integer({ min: 0, max: 3 * rule.windowMs }),
            fc.constantFrom(1, rule.windowMs - 1, rule.windowMs, rule.windowMs + 1),
          ),
          batch: fc.array(fc.record({ key: fc.integer({ min: 0, max: 1 }), cost: fc.integer({ min: 1, max: rule.limit }) }), { minLength: 1, maxLength: 6 }),
        }),
        { minLength: 1, maxLength: 25 },
      ),
    }),
  );

interface Admitted {
  at: number;
  cost: number;
}

function checkDecision(decision: RateLimitDecision, rule: RateLimitRule, now: number) {
  assert.equal(decision.limit, rule.limit);
  assert.ok(decision.remaining >= 0, `remaining ${decision.remaining} < 0`);
  assert.ok(decision.remaining <= rule.limit, `remaining ${decision.remaining} > limit`);
  assert.ok(decision.resetAt >= now, "resetAt in the past");
  if (decision.allowed) assert.equal(decision.retryAfter, 0);
  else assert.ok(decision.retryAfter >= 1, "a refusal without a Retry-After");
}

export function assertWithinLimit(rule: RateLimitRule, admitted: Admitted[]) {
  const { limit, windowMs } = rule;
  if (rule.algorithm === "fixed-window") {
    const perWindow = new Map<number, number>();
    for (const { at, cost } of admitted) {
      const window = Math.floor(at / windowMs);
      perWindow.set(window, (perWindow.get(window) ?? 0) + cost);
    }
    for (const used of perWindow.values()) assert.ok(used <= limit, `${used} admitted in one window, limit ${limit}`);
  } else if (rule.algorithm === "sliding-window") {
    // The busiest span of windowMs ends at some admitted request, so checking those spans suffices.
    for (const end of admitted) {
      const used = admitted.filter((a) => a.at > end.at - windowMs && a.at <= end.at).reduce((sum, a) => sum + a.cost, 0);
      assert.ok(used <= limit, `${used} admitted within ${windowMs} ms, limit ${limit}`);
    }
  } else {
    for (const first of admitted) {
      for (const last of admitted) {
        if (last.at < first.at) continue;
        const used = admitted.filter((a) => a.at >= first.at && a.at <= last.at).reduce((sum, a) => sum + a.cost, 0);
        const bound = limit + Math.floor(((last.at - first.at) * limit) / windowMs);
        assert.ok(used <= bound, `${used} admitted from ${first.at} to ${last.at}, bound ${bound}`);
      }
    }
  }
}

/**
 * Runs one scenario on a fresh store and checks every decision and the admitted totals.
 * `keyPrefix` keeps runs apart on a shared store.
 */
export async function runScenario(makeStore: StoreFactory, scenario: Scenario, keyPrefix: string): Promise<void> {
  const clock: Clock = { now: scenario.startAt };
  const store = await makeStore(clock);
  const admitted: Admitted[][] = [[], []];
  let anyAllowed = false;
  for (const step of scenario.steps) {
    clock.now += step.advanceMs;
    const at = clock.now;
    const decisions = await Promise.all(step.batch.map((request) => store.consume(`${keyPrefix}:${request.key}`, scenario.rule, request.cost)));
    decisions.forEach((decision, i) => {
      checkDecision(decision, scenario.rule, at);
      if (decision.allowed) {
        anyAllowed = true;
        admitted[step.batch[i]!.key]!.push({ at, cost: step.batch[i]!.cost });
      }
    });
  }
  // The very first request on a fresh key always fits, so a store that refuses everything fails here.
  assert.ok(anyAllowed, "nothing was admitted");
  for (const perKey of admitted) assertWithinLimit(scenario.rule, perKey);
}

/**
 * A refused request, retried after exactly the Retry-After it was given and with nothing else in
 * between, is admitted: the wait a store announces is long enough.
 */
export const retryArbitrary = fc.record({
  algorithm: fc.constantFrom(...ALGORITHMS),
  limit: fc.integer({ min: 1, max: 6 }),
  windowMs: fc.constantFrom(1_000, 7_000, 60_000),
  startAt: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
  gaps: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 0, maxLength: 6 }),
  cost: fc.integer({ min: 1, max: 6 }),
});

export type RetryInput = typeof retryArbitrary extends fc.Arbitrary<infer T> ? T : never;

export async function runRetryAfter(makeStore: StoreFactory, input: RetryInput, key: string) {
  const rule: RateLimitRule = { algorithm: input.algorithm, limit: input.limit, windowMs: input.windowMs };
  const cost = Math.min(input.cost, input.limit);
  const clock: Clock = { now: input.startAt };
  const store = await makeStore(clock);
  for (const gap of input.gaps) {
    clock.now += gap;
    await store.consume(key, rule, 1);
  }
  let decision = await store.consume(key, rule, cost);
  for (let i = 0; decision.allowed && i <= rule.limit; i++) decision = await store.consume(key, rule, cost);
  assert.equal(decision.allowed, false);
  clock.now += decision.retryAfter * 1000;
  const retried = await store.consume(key, rule, cost);
  assert.equal(retried.allowed, true, "refused again after waiting its Retry-After");
}
