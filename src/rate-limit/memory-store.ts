/**
 * The embedded rate-limit store: one process, bounded in size, expired entries swept.
 *
 * Counts held here are per process. Behind a load balancer each copy of the app counts on its own,
 * so a limit of 10 becomes 10 per copy; use a shared store (adapters/redis.ts, adapters/deno-kv.ts)
 * to hold a limit across servers.
 */
import { assertValidRule, rateLimitStep, refundStep, type RateLimitState } from "./algorithms.ts";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "./types.ts";

export interface MemoryRateLimitStoreOptions {
  /**
   * Keys kept at most. When full, expired keys go first, then the oldest; a key evicted while still
   * counting starts again from zero, so size this above the number of users active in one window.
   * Default 100 000.
   */
  maxKeys?: number;
  /** How often expired keys are swept, in ms (on the next decision after it; no timers). Default 60 000. */
  sweepIntervalMs?: number;
  /** Clock in epoch ms, for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  algorithm: RateLimitAlgorithm;
  state: RateLimitState;
  expiresAt: number;
}

export interface MemoryRateLimitStore extends RateLimitStore {
  /** Keys currently held, expired or not (for tests and metrics). */
  readonly size: number;
}

export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): MemoryRateLimitStore {
  const maxKeys = options.maxKeys ?? 100_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new TypeError("memoryRateLimitStore: maxKeys must be a positive integer");

  const entries = new Map<string, Entry>();
  let nextSweepAt = now() + sweepIntervalMs;

  function sweepExpired(at: number) {
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= at) entries.delete(key);
    }
    nextSweepAt = at + sweepIntervalMs;
  }

  function makeRoom(at: number) {
    sweepExpired(at);
    // Still full of live keys: forget the oldest tenth at once, so this is not paid on every insert.
    if (entries.size >= maxKeys) {
      let toEvict = Math.max(1, Math.floor(maxKeys / 10));
      for (const key of entries.keys()) {
        entries.delete(key);
        if (--toEvict === 0) break;
      }
    }
  }

  function decide(key: string, rule: RateLimitRule, cost: number): RateLimitDecision {
    assertValidRule(rule, cost);
    const at = now();
    if (at >= nextSweepAt) sweepExpired(at);
    const entry = entries.get(key);
    const current = entry && entry.algorithm === rule.algorithm && entry.expiresAt > at ? entry.state : undefined;
    const step = rateLimitStep(current, rule, cost, at);
    if (entry) {
      entry.algorithm = rule.algorithm;
      entry.state = step.state;
      entry.expiresAt = step.expiresAt;
    } else if (step.changed) {
      // A refusal on an unknown key records nothing, so a flood of refused keys cannot fill the map.
      if (entries.size >= maxKeys) makeRoom(at);
      entries.set(key, { algorithm: rule.algorithm, state: step.state, expiresAt: step.expiresAt });
    }
    return step.decision;
  }

  return {
    inProcess: true,
    consume(key, rule, cost) {
      // Decided synchronously, so no other decision can interleave: that is this store's atomicity.
      try {
        return Promise.resolve(decide(key, rule, cost));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    refund(key, rule, cost, admitted) {
      try {
        assertValidRule(rule, cost);
        const at = now();
        const entry = entries.get(key);
        if (!entry || entry.algorithm !== rule.algorithm || entry.expiresAt <= at) return Promise.resolve();
        const step = refundStep(entry.state, rule, cost, admitted, at);
        if (step) {
          entry.state = step.state;
          entry.expiresAt = step.expiresAt;
        }
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
