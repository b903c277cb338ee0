/**
 * Reading an entry that is valid only while another exists (`CacheStore.getDependent`), on any
 * store: through the store's own read when it has one, otherwise through two reads.
 */
import type { CacheStore } from "./types.ts";

/** The key a dependent entry's value names in its `dependsOn` field, or `undefined` when it names none. */
export function dependencyOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const named = (value as { dependsOn?: unknown }).dependsOn;
  return typeof named === "string" ? named : undefined;
}

/** `store.getDependent(key)`, or, for a store without it, the same made of `get`, `get` and `delete`. */
export function getDependent<T = unknown>(store: CacheStore, key: string): Promise<T | undefined> {
  return store.getDependent ? store.getDependent<T>(key) : inTwoReads<T>(store, key);
}

async function inTwoReads<T>(store: CacheStore, key: string): Promise<T | undefined> {
  const value = await store.get<T>(key);
  if (value === undefined) return undefined;
  const named = dependencyOf(value);
  if (named !== undefined && (await store.get(named)) !== undefined) return value;
  // Gone for good: left in place, it would cost this second read on every request until it expired.
  await store.delete(key);
  return undefined;
}
