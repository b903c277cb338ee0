/**
 * Entries for stores whose own expiry is late or absent: unstorage drivers that ignore `ttl`, Deno
 * KV (which deletes expired keys some time after they expire). Each entry carries its expiry, and a
 * read checks it, so a stale entry is never served however long the store keeps it.
 */
import type { CacheEnvelope } from "./types.ts";

/** What to store for `value`, valid for `ttlMs` from `now` (epoch ms). */
export function envelope(value: unknown, ttlMs: number, now: number): CacheEnvelope {
  return { value, expiresAt: now + ttlMs };
}

/**
 * The value inside `stored`, or `undefined` when there is none, it has expired at `now`, or
 * `stored` is not an envelope: a key written by something else reads as absent, not as a value.
 */
export function openEnvelope<T = unknown>(stored: unknown, now: number): T | undefined {
  if (typeof stored !== "object" || stored === null || !("value" in stored) || !("expiresAt" in stored)) return undefined;
  const { value, expiresAt } = stored as CacheEnvelope;
  if (typeof expiresAt !== "number" || !(expiresAt > now)) return undefined;
  return value as T;
}
