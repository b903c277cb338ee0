/**
 * The rate-limit vocabulary shared by the limiter, its stores and the adapters in adapters/.
 * A store knows nothing of users or HTTP: it receives an opaque key and a rule, and answers with a
 * decision in one atomic step.
 */

/**
 * - `fixed-window`: at most `limit` per window, windows aligned to the epoch (the default).
 * - `sliding-window`: at most `limit` in any span of `windowMs`, counted exactly from a log of
 *   admitted requests.
 * - `token-bucket`: a bucket of `limit` tokens refilled steadily at `limit` per `windowMs`; allows a
 *   burst of `limit`, then the refill rate.
 */
export type RateLimitAlgorithm = "fixed-window" | "sliding-window" | "token-bucket";

export interface RateLimitRule {
  algorithm: RateLimitAlgorithm;
  /** Units allowed per window (or the bucket's size); a positive integer. */
  limit: number;
  /** The window (or the time to refill an empty bucket), in milliseconds; a positive integer. */
  windowMs: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Units still available after this decision. */
  remaining: number;
  /** Epoch milliseconds at which the full limit is available again. */
  resetAt: number;
  /** Whole seconds to wait before the same request can succeed; 0 when allowed. */
  retryAfter: number;
}

/**
 * Where rate-limit state lives. `consume` is one atomic operation per decision: it admits the
 * request and records it, or refuses it and records nothing, with no window for another server to
 * slip in between a read and a write. A store that cannot answer throws (or rejects); it never
 * answers a failure with a refusal.
 */
export interface RateLimitStore {
  consume(key: string, rule: RateLimitRule, cost: number): Promise<RateLimitDecision>;
  /**
   * Gives back `cost` units that `admitted` (the decision `consume` returned for them) took, for a
   * request that then handed out nothing, in one atomic step like `consume`. Units whose window has
   * passed are not given back (there is nothing left to give), and the count never goes below zero
   * or the bucket above full. A store without it keeps counting such requests.
   */
  refund?(key: string, rule: RateLimitRule, cost: number, admitted: RateLimitDecision): Promise<void>;
  /**
   * True when decisions are made in this process's memory and never wait on I/O, so the limiter
   * skips the store timeout (a timer per decision, which costs more than the decision itself).
   */
  readonly inProcess?: boolean;
}
