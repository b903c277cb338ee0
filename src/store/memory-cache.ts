import { OptionError } from "../errors.ts";
import { dependencyOf } from "./dependent.ts";
import type { CacheStore } from "./types.ts";

export interface MemoryCacheOptions {
  /**
   * Entries kept at most; when full, the oldest-inserted goes first. Default 250 000: room for
   * 100 000 live tokens at two entries each (record and reuse entry), with margin.
   */
  maxEntries?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

export interface MemoryCache extends CacheStore {
  /** Entries currently held, expired or not (for tests and metrics). */
  readonly size: number;
}

interface Entry {
  value: unknown;
  expiresAt: number;
  linked: string | undefined;
}

/**
 * The embedded cache store: one process, bounded in size.
 *
 * Every operation is O(1). When full, a set drops the oldest-inserted entry rather than looking
 * through the others for expired ones; an expired entry is dropped when it is read, or when its
 * turn as the oldest comes. Reads do not reorder entries: a reuse entry that is read often must not
 * stay while the record it points at, set before it, is dropped. And dropping an entry set with
 * `linked` drops the linked key too, so a record's reuse entry goes with it.
 */
export function memoryCache(options: MemoryCacheOptions = {}): MemoryCache {
  const maxEntries = options.maxEntries ?? 250_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new OptionError("memoryCache: maxEntries", "must be a positive integer");
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  // Where eviction goes on from. A Map's iterator keeps its place in insertion order, skips entries
  // deleted after it was made and yields entries added after it, so the one kept here always comes
  // to the oldest live entry next. A fresh `entries.keys()` for each eviction would instead step
  // again over every deleted slot at the front of the Map (they stay until the Map is rehashed),
  // and a set on a full cache would cost a walk over them.
  let oldest = entries.keys();

  /** Drops `key` and what it links to, following a chain of links until it ends or loops back. */
  function drop(key: string | undefined) {
    while (key !== undefined) {
      const entry = entries.get(key);
      if (!entry) return;
      entries.delete(key);
      key = entry.linked;
    }
  }

  function dropOldest() {
    let next = oldest.next();
    if (next.done) {
      // A finished iterator stays finished, whatever is added later.
      oldest = entries.keys();
      next = oldest.next();
    }
    drop(next.value);
  }

  /** The entry under `key` unless it has expired, in which case it is dropped. */
  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      drop(key);
      return undefined;
    }
    return entry;
  }

  return {
    // Not `async`: a resolved promise is all a caller needs, and it costs less than an async frame.
    get<T>(key: string) {
      return Promise.resolve(live(key)?.value as T | undefined);
    },
    getDependent<T>(key: string) {
      const entry = live(key);
      if (!entry) return Promise.resolve(undefined);
      const named = dependencyOf(entry.value);
      if (named !== undefined && live(named)) return Promise.resolve(entry.value as T);
      entries.delete(key);
      return Promise.resolve(undefined);
    },
    set(key, value, ttlMs, linked) {
      // Replacing an entry is not dropping it: what the old one linked to stays.
      entries.delete(key);
      // `>= 1` also turns away NaN, which would otherwise never expire.
      if (!(ttlMs >= 1)) return Promise.resolve();
      while (entries.size >= maxEntries) dropOldest();
      entries.set(key, { value, expiresAt: now() + ttlMs, linked });
      return Promise.resolve();
    },
    delete(key) {
      entries.delete(key);
      return Promise.resolve();
    },
    get size() {
      return entries.size;
    },
  };
}
