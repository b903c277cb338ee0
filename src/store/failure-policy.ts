import { TollgateError } from "../errors.ts";
import { getDependent } from "./dependent.ts";
import { memoryCache } from "./memory-cache.ts";
import type { CacheStore } from "./types.ts";

/**
 * What the token cache does when its store fails:
 * - `closed` (the default) answers 503 `store_unavailable`, never a miss, a 404 or a 429;
 * - `memory` carries on with a cache in this process until the shared store answers again.
 * There is no `open`: without a record of who owns a token, the usage route could not refuse a
 * stranger's report, so memory is the only safe way to keep serving.
 */
export type CacheFailurePolicy = "closed" | "memory";

/** A cache store behind a failure policy: what `withFailurePolicy` makes. */
export interface FailingOverCache extends CacheStore {
  getDependent<T = unknown>(key: string): Promise<T | undefined>;
  /**
   * `get`, for a key whose absence is an answer in itself: a token's record, absent when the token
   * was not issued here (404). While the shared store fails, the fallback's absence says only that
   * the key was not written during the outage, so this answers 503 `store_unavailable` instead, and
   * the client asks again once the store is back.
   */
  getOrUnavailable<T = unknown>(key: string): Promise<T | undefined>;
}

/** Wraps `store` so that its failures follow `policy`. `onFailure` hears of each one first. */
export function withFailurePolicy(store: CacheStore, policy: CacheFailurePolicy, onFailure: (error: unknown) => void = () => {}): FailingOverCache {
  const fallback = policy === "memory" ? memoryCache() : undefined;
  const attempt = failingOver<CacheStore>(store, fallback, onFailure);
  return {
    get: (key) => attempt((target) => target.get(key)),
    getDependent: (key) => attempt((target) => getDependent(target, key)),
    getOrUnavailable: <T>(key: string) =>
      attempt(async (target) => {
        const value = await target.get<T>(key);
        if (value === undefined && target === fallback) throw new TollgateError("store_unavailable", { retryAfter: 5 });
        return value;
      }),
    set: (key, value, ttlMs, linked) => attempt((target) => target.set(key, value, ttlMs, linked)),
    delete: (key) => attempt((target) => target.delete(key)),
  };
}

/**
 * Runs operations on `store`, and when one fails for the store's own reasons, tells `onFailure`,
 * then runs it on `fallback` when there is one, or answers 503 `store_unavailable`. Errors tollgate
 * threw itself pass through as they are, except a store's own `store_unavailable` (a Deno KV that
 * kept losing its check-and-set), which is a failure of the store like any other. What a shared
 * store's `closed` and `memory` policies come down to, whatever the store holds.
 */
export function failingOver<S>(store: S, fallback: S | undefined, onFailure: (error: unknown) => void): <T>(operation: (target: S) => Promise<T>) => Promise<T> {
  return async (operation) => {
    try {
      return await operation(store);
    } catch (error) {
      if (error instanceof TollgateError && error.code !== "store_unavailable") throw error;
      onFailure(error);
      if (fallback) return operation(fallback);
      throw new TollgateError("store_unavailable", { retryAfter: 5, cause: error });
    }
  };
}
