/**
 * The two storage interfaces tollgate needs. Each has a bounded in-memory implementation as the
 * embedded default; adapters/ holds the ones for shared stores (Redis/Valkey, unstorage, Deno KV).
 */

/**
 * A key-value store for cached tokens and the records that say whether a token was used.
 * Values are plain JSON; keys are opaque strings chosen by tollgate (`reuse:<hex>`, `token:<hex>`,
 * `lease:...`), never raw user ids or configs, and carry no prefix: each store adds its own.
 */
export interface CacheStore {
  /** The value stored under `key`, or `undefined` when absent or expired. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /**
   * Stores `value` under `key` for `ttlMs` milliseconds; a `ttlMs` below 1 leaves `key` absent.
   *
   * `linked` names an entry that must not outlive this one. A store that can drop an entry before
   * its TTL (a bounded memory store) drops `linked` with it, so that a token's reuse entry never
   * outlives the token's record: the issuer sets the record with its reuse entry's key as `linked`,
   * and a reuse entry pointing at a forgotten record would hand out a token whose owner and use
   * nobody can check any more. Dropping `linked` early is always safe; it costs a fresh mint.
   * Stores that never evict early (Redis with TTLs, Deno KV, unstorage) may ignore it.
   */
  set(key: string, value: unknown, ttlMs: number, linked?: string): Promise<void>;
  /** Removes `key` (and only `key`); removing an absent key is not an error. */
  delete(key: string): Promise<void>;
}

/**
 * What a store without native expiry keeps under a cache key: the value and when it stops being
 * valid, so that a read can tell a stale entry from a live one. See ./envelope.ts.
 */
export interface CacheEnvelope {
  value: unknown;
  expiresAt: number;
}
