import type { CacheStore } from "./types.ts";

export interface MemoryCacheOptions {
  /** Entries kept at most; the least recently used go first. Default 10 000. */
  maxEntries?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** The embedded cache store: one process, bounded in size, expired entries dropped as they are met. */
export function memoryCache(options: MemoryCacheOptions = {}): CacheStore {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order, so re-inserting on read keeps the oldest entry first.
  const entries = new Map<string, Entry>();

  function sweepExpired(at: number) {
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= at) entries.delete(key);
    }
  }

  return {
    // Not `async`: a resolved promise is all a caller needs, and it costs less than an async frame.
    get<T>(key: string) {
      const entry = entries.get(key);
      if (!entry) return Promise.resolve(undefined);
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return Promise.resolve(undefined);
      }
      entries.delete(key);
      entries.set(key, entry);
      return Promise.resolve(entry.value as T);
    },
    async set(key, value, ttlMs) {
      const at = now();
      entries.delete(key);
      if (entries.size >= maxEntries) sweepExpired(at);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
      }
      entries.set(key, { value, expiresAt: at + ttlMs });
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}
