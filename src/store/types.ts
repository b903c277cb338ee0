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
   * `linked` names an entry that need not outlive this one: the issuer sets a token's record with
   * its reuse entry's key as `linked`. A store that drops entries to make room (a bounded memory
   * store) may drop `linked` with it, so that no reuse entry lingers whose record is gone. Any
   * store may ignore it: a reuse entry is read with `getDependent`, which never answers one whose
   * record is gone.
   */
  set(key: string, value: unknown, ttlMs: number, linked?: string): Promise<void>;
  /** Removes `key` (and only `key`); removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Optional: `get` for an entry that is valid only while another one exists. The value under `key`
   * is an object whose `dependsOn` field holds another key of this store (a token's reuse entry
   * names the token's record so). Answer the value while that other entry is present and
   * unexpired; otherwise (it is gone, or the value names none) delete `key` and answer `undefined`.
   *
   * Implement it when the backend can look at both in one round trip (tollgate/redis does it in one
   * Lua script), so that a cache hit costs one. Without it, tollgate does the same with `get`,
   * `get` and `delete`; an evicting store (an LRU, Redis with an eviction policy) then still never
   * hands out a token whose record it dropped.
   */
  getDependent?<T = unknown>(key: string): Promise<T | undefined>;
}

/**
 * What a store without native expiry keeps under a cache key: the value and when it stops being
 * valid, so that a read can tell a stale entry from a live one. See ./envelope.ts.
 */
export interface CacheEnvelope {
  value: unknown;
  expiresAt: number;
}
