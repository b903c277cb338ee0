/**
 * The two storage interfaces tollgate needs. Each has a bounded in-memory implementation as the
 * embedded default; adapters/ holds the ones for shared stores (Redis/Valkey, unstorage, Deno KV).
 */

/**
 * A key-value store for cached tokens and the records that say whether a token was used.
 * Values are plain JSON; keys are opaque hashes chosen by tollgate, never raw user ids or configs.
 */
export interface CacheStore {
  /** The value stored under `key`, or `undefined` when absent or expired. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores `value` under `key` for `ttlMs` milliseconds. */
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** Removes `key`; removing an absent key is not an error. */
  delete(key: string): Promise<void>;
}

/**
 * What a store without native expiry keeps under a cache key: the value and when it stops being
 * valid, so that a read can tell a stale entry from a live one.
 */
export interface CacheEnvelope {
  value: unknown;
  expiresAt: number;
}
