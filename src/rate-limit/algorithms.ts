/**
 * The three algorithms as plain steps over a state object, for stores that keep state in process
 * (memory) or behind a check-and-set (Deno KV, unstorage). adapters/redis.ts holds the same steps
 * as Lua scripts; the property tests hold both to the same guarantees.
 *
 * A step updates the state it is given in place (and makes one when given none): the memory store
 * then allocates nothing per decision but the decision itself, and the stores that read state from
 * elsewhere (Deno KV, unstorage) hand it a fresh copy anyway.
 *
 * Every step takes `now` from its caller and tolerates a clock that steps backwards: it never
 * forgets what it admitted because the clock went back, so a skewed server cannot admit more.
 * Arithmetic is on integers only (the token bucket counts in token-milliseconds), so a script and
 * this code agree to the last unit.
 */
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule } from "./types.ts";

export interface FixedWindowState {
  /** Epoch ms at which the counted window began. */
  windowStart: number;
  used: number;
}

export interface SlidingWindowState {
  /** Admitted requests, oldest first, as pairs: [time, cost, time, cost, ...]. */
  log: number[];
}

export interface TokenBucketState {
  /** Tokens in the bucket, times `windowMs` (so that refilling stays an integer). */
  level: number;
  /** Epoch ms the level was last brought up to date. */
  updatedAt: number;
}

export type RateLimitState = FixedWindowState | SlidingWindowState | TokenBucketState;

/** What a key-value store keeps under a rate-limit key: the algorithm's state and its expiry. */
export interface LimitEnvelope {
  algorithm: RateLimitAlgorithm;
  state: RateLimitState;
  expiresAt: number;
}

/** A decision, the state to keep, and when that state may be forgotten without changing any answer. */
export interface RateLimitStep<S> {
  decision: RateLimitDecision;
  state: S;
  /** Epoch ms after which a fresh state gives the same answers as this one. */
  expiresAt: number;
  /** False when the step left the stored state as it was (a refusal), so a store may skip its write. */
  changed: boolean;
}

/** Whole seconds for Retry-After from a wait in ms. */
export function retrySeconds(waitMs: number): number {
  // A refused request is told to wait at least a second: Retry-After has no smaller unit.
  return Math.max(1, Math.ceil(waitMs / 1000));
}

export function fixedWindowStep(
  state: FixedWindowState | undefined,
  rule: RateLimitRule,
  cost: number,
  now: number,
): RateLimitStep<FixedWindowState> {
  const { limit, windowMs } = rule;
  const currentStart = now - (now % windowMs);
  if (!state) state = { windowStart: currentStart, used: 0 };
  // A later window starts from zero; the same window, or an earlier one when this clock stepped
  // back, keeps counting the stored window.
  else if (state.windowStart < currentStart) {
    state.windowStart = currentStart;
    state.used = 0;
  }
  const resetAt = state.windowStart + windowMs;
  const allowed = state.used + cost <= limit;
  if (allowed) state.used += cost;
  return {
    decision: { allowed, limit, remaining: limit - state.used, resetAt, retryAfter: allowed ? 0 : retrySeconds(resetAt - now) },
    state,
    expiresAt: resetAt,
    changed: allowed,
  };
}

export function slidingWindowStep(
  state: SlidingWindowState | undefined,
  rule: RateLimitRule,
  cost: number,
  now: number,
): RateLimitStep<SlidingWindowState> {
  const { limit, windowMs } = rule;
  if (!state) state = { log: [] };
  const log = state.log;
  // An admitted request stops counting windowMs after it was admitted.
  let firstLive = 0;
  while (firstLive < log.length && log[firstLive]! + windowMs <= now) firstLive += 2;
  if (firstLive > 0) log.splice(0, firstLive);
  let used = 0;
  for (let i = 1; i < log.length; i += 2) used += log[i]!;

  const allowed = used + cost <= limit;
  let retryAfter = 0;
  if (allowed) {
    log.push(now, cost);
    used += cost;
  } else {
    // Wait until enough of the oldest requests have left the window to make room for this one.
    const mustLeave = used + cost - limit;
    let left = 0;
    let waitMs = windowMs;
    for (let i = 0; i < log.length; i += 2) {
      left += log[i + 1]!;
      if (left >= mustLeave) {
        waitMs = log[i]! + windowMs - now;
        break;
      }
    }
    retryAfter = retrySeconds(waitMs);
  }
  const newest = log.length > 0 ? log[log.length - 2]! : undefined;
  const resetAt = newest === undefined ? now : Math.max(now, newest + windowMs);
  return {
    decision: { allowed, limit, remaining: limit - used, resetAt, retryAfter },
    state,
    expiresAt: resetAt,
    changed: allowed || firstLive > 0,
  };
}

export function tokenBucketStep(
  state: TokenBucketState | undefined,
  rule: RateLimitRule,
  cost: number,
  now: number,
): RateLimitStep<TokenBucketState> {
  const { limit, windowMs } = rule;
  const capacity = limit * windowMs;
  if (!state) state = { level: capacity, updatedAt: now };
  else if (now > state.updatedAt) {
    // Each elapsed millisecond adds `limit` token-milliseconds: `limit` tokens per `windowMs`.
    state.level = Math.min(capacity, state.level + (now - state.updatedAt) * limit);
    state.updatedAt = now;
  }
  const needed = cost * windowMs;
  const allowed = state.level >= needed;
  if (allowed) state.level -= needed;
  const { level } = state;
  const resetAt = Math.max(now, state.updatedAt) + Math.ceil((capacity - level) / limit);
  return {
    decision: {
      allowed,
      limit,
      remaining: Math.floor(level / windowMs),
      resetAt,
      retryAfter: allowed ? 0 : retrySeconds(Math.ceil((needed - level) / limit)),
    },
    state,
    expiresAt: resetAt,
    // A refusal only brought the refill up to date, which any later step would compute the same.
    changed: allowed,
  };
}

/** One decision by whichever algorithm the rule names. */
export function rateLimitStep(
  state: RateLimitState | undefined,
  rule: RateLimitRule,
  cost: number,
  now: number,
): RateLimitStep<RateLimitState> {
  switch (rule.algorithm) {
    case "fixed-window":
      return fixedWindowStep(state as FixedWindowState | undefined, rule, cost, now);
    case "sliding-window":
      return slidingWindowStep(state as SlidingWindowState | undefined, rule, cost, now);
    case "token-bucket":
      return tokenBucketStep(state as TokenBucketState | undefined, rule, cost, now);
  }
}

/**
 * Gives back `cost` units that `admitted` took, on the state as it is `now`. Each algorithm finds
 * what it admitted from the decision alone, so that a store needs to keep nothing more per request:
 * - fixed window: the window is the one ending at `admitted.resetAt`; a later window has nothing to
 *   give back;
 * - sliding window: an admitted request is the newest in the log, so it was logged at
 *   `admitted.resetAt - windowMs`; the entry of that time and cost is removed (none is found when
 *   the clock had stepped back at the time, and then nothing is given back);
 * - token bucket: the tokens go back, the bucket never filling past its size, and only until
 *   `admitted.resetAt`, when the bucket would be full again by itself. Exact when no other request
 *   on the key was admitted in between; when one was, and the bucket would have filled up before
 *   it had this request never been made, the refund can give back a little of the refill that
 *   full bucket would have wasted: at most the refunded units, slightly early.
 * Returns the state to keep and its expiry, or undefined when there is nothing to change.
 */
export function refundStep(
  state: RateLimitState | undefined,
  rule: RateLimitRule,
  cost: number,
  admitted: Pick<RateLimitDecision, "resetAt">,
  now: number,
): { state: RateLimitState; expiresAt: number } | undefined {
  if (!state) return undefined;
  const { limit, windowMs } = rule;
  switch (rule.algorithm) {
    case "fixed-window": {
      const fixed = state as FixedWindowState;
      if (fixed.windowStart !== admitted.resetAt - windowMs || fixed.used === 0) return undefined;
      fixed.used = Math.max(0, fixed.used - cost);
      return { state: fixed, expiresAt: fixed.windowStart + windowMs };
    }
    case "sliding-window": {
      const { log } = state as SlidingWindowState;
      const loggedAt = admitted.resetAt - windowMs;
      for (let i = log.length - 2; i >= 0; i -= 2) {
        if (log[i] === loggedAt && log[i + 1] === cost) {
          log.splice(i, 2);
          const newest = log.length > 0 ? log[log.length - 2]! : undefined;
          return { state, expiresAt: newest === undefined ? now : Math.max(now, newest + windowMs) };
        }
      }
      return undefined;
    }
    case "token-bucket": {
      const bucket = state as TokenBucketState;
      if (now >= admitted.resetAt) return undefined;
      const capacity = limit * windowMs;
      if (now > bucket.updatedAt) {
        bucket.level = Math.min(capacity, bucket.level + (now - bucket.updatedAt) * limit);
        bucket.updatedAt = now;
      }
      bucket.level = Math.min(capacity, bucket.level + cost * windowMs);
      return { state: bucket, expiresAt: Math.max(now, bucket.updatedAt) + Math.ceil((capacity - bucket.level) / limit) };
    }
  }
}

export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = ["fixed-window", "sliding-window", "token-bucket"];

/**
 * Throws a TypeError that names the problem when a rule or cost cannot be decided on. Stores call it
 * too, so a bad value reaching one directly is an error and never a silent zero or NaN.
 */
export function assertValidRule(rule: RateLimitRule, cost: number): void {
  const { algorithm } = rule;
  if (algorithm !== "fixed-window" && algorithm !== "sliding-window" && algorithm !== "token-bucket") {
    throw new TypeError(`rate limit: unknown algorithm ${JSON.stringify(rule.algorithm)}; use one of ${RATE_LIMIT_ALGORITHMS.join(", ")}`);
  }
  if (!Number.isSafeInteger(rule.limit) || rule.limit < 1) {
    throw new TypeError(`rate limit: limit must be a positive integer, got ${String(rule.limit)}`);
  }
  if (!Number.isSafeInteger(rule.windowMs) || rule.windowMs < 1) {
    throw new TypeError(`rate limit: windowMs must be a positive integer, got ${String(rule.windowMs)}`);
  }
  if (!Number.isSafeInteger(rule.limit * rule.windowMs)) {
    // The token bucket counts in token-milliseconds; past 2^53 that count would lose units.
    throw new TypeError("rate limit: limit × windowMs is too large to count exactly");
  }
  if (!Number.isSafeInteger(cost) || cost < 1 || cost > rule.limit) {
    throw new TypeError(`rate limit: cost must be an integer from 1 to the limit (${rule.limit}), got ${String(cost)}`);
  }
}
