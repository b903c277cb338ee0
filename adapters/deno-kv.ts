/**
 * tollgate/deno-kv: the cache and rate-limit stores on Deno KV (local SQLite, or Deno Deploy's).
 *
 *   import { denoKvStore } from "tollgate/deno-kv";
 *   const store = denoKvStore({ kv: await Deno.openKv() });
 *
 * Options:
 * - `kv`: an open `Deno.Kv`.
 * - `prefix`: the first part of every key, default `tollgate`: 1 to 64 letters, digits, `_ . : -`.
 * - `now`: a clock in epoch ms, for tests. Default `Date.now`.
 * - `maxAttempts`: tries per decision when other writers keep changing the same key, default 16;
 *   past that the decision fails, and the limiter's failure policy answers.
 *
 * A decision reads the key's state, computes the step, and commits the new state only if the key is
 * still at the version it read (an atomic check-and-set); on a conflict it reads again. So decisions
 * from any number of processes on one KV are exact. Entries are written with `expireIn`, and each
 * also carries its own expiry, because KV deletes expired keys at some point after they expire
 * rather than at once. A refund (units given back for a mint that failed upstream) is the same
 * check-and-set. Keys are `[prefix, "cache", key]` and `[prefix, "rl", key, algorithm]`.
 * `set`'s `linked` is ignored: KV never drops an entry before its expiry.
 *
 * A sliding window keeps a log of its admitted requests in one value, and a KV value holds at most
 * 64 KiB: about 1 500 requests per window and key. Use a fixed window or a token bucket for more.
 *
 * The adapter names only the parts of the Deno.Kv API it uses, so it type-checks without Deno's
 * globals and runs on any runtime that hands it a Kv.
 */
import { assertValidRule, rateLimitStep, refundStep, type LimitEnvelope } from "../src/rate-limit/algorithms.ts";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../src/rate-limit/types.ts";
import { envelope, openEnvelope } from "../src/store/envelope.ts";
import { checkPrefix } from "../src/store/prefix.ts";
import type { CacheStore } from "../src/store/types.ts";

type KvKey = readonly (string | number)[];

interface KvEntry<T> {
  value: T | null;
  versionstamp: string | null;
}

interface KvAtomic {
  check(...checks: Array<{ key: KvKey; versionstamp: string | null }>): KvAtomic;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  commit(): Promise<{ ok: boolean }>;
}

/** The parts of `Deno.Kv` this store uses. */
export interface DenoKvLike {
  get<T = unknown>(key: KvKey): Promise<KvEntry<T>>;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: KvKey): Promise<void>;
  atomic(): KvAtomic;
}

export interface DenoKvStoreOptions {
  /** An open Deno.Kv. */
  kv: DenoKvLike;
  /** The first part of every key. Default `tollgate`. */
  prefix?: string;
  /** Clock, epoch ms, for tests. Default `Date.now`. */
  now?: () => number;
  /** Tries per decision under contention before it fails. Default 16. */
  maxAttempts?: number;
}

export interface DenoKvStore extends CacheStore, RateLimitStore {}

export class DenoKvContentionError extends Error {
  constructor(attempts: number) {
    super(`Deno KV: the rate-limit key kept changing; gave up after ${attempts} attempts`);
    this.name = "DenoKvContentionError";
  }
}

const LOCKED = /database is locked|SQLITE_BUSY/i;

export function denoKvStore(options: DenoKvStoreOptions): DenoKvStore {
  const { kv } = options;
  if (!kv || typeof kv.atomic !== "function") throw new TypeError("denoKvStore: pass an open Deno.Kv as `kv`");
  const prefix = checkPrefix("denoKvStore: prefix", options.prefix);
  const now = options.now ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 16;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new TypeError("denoKvStore: maxAttempts must be a positive integer");

  const cacheKey = (key: string): KvKey => [prefix, "cache", key];
  const limitKey = (key: string, algorithm: RateLimitAlgorithm): KvKey => [prefix, "rl", key, algorithm];

  /** One read, step and check-and-set; undefined when another writer got there first. */
  async function attempt(kvKey: KvKey, rule: RateLimitRule, cost: number): Promise<RateLimitDecision | undefined> {
    const entry = await kv.get<LimitEnvelope>(kvKey);
    const at = now();
    const stored = entry.value;
    const current = stored && stored.algorithm === rule.algorithm && stored.expiresAt > at ? stored.state : undefined;
    const step = rateLimitStep(current, rule, cost, at);
    // A refusal writes nothing: the state it was decided on stays as it is.
    if (!step.changed) return step.decision;
    const envelope: LimitEnvelope = { algorithm: rule.algorithm, state: step.state, expiresAt: step.expiresAt };
    const committed = await kv
      .atomic()
      .check({ key: kvKey, versionstamp: entry.versionstamp })
      .set(kvKey, envelope, { expireIn: Math.max(1, step.expiresAt - at) })
      .commit();
    return committed.ok ? step.decision : undefined;
  }

  /** One read, refund and check-and-set; false when another writer got there first. */
  async function refundAttempt(kvKey: KvKey, rule: RateLimitRule, cost: number, admitted: RateLimitDecision): Promise<boolean> {
    const entry = await kv.get<LimitEnvelope>(kvKey);
    const at = now();
    const stored = entry.value;
    if (!stored || stored.algorithm !== rule.algorithm || stored.expiresAt <= at) return true;
    const step = refundStep(stored.state, rule, cost, admitted, at);
    if (!step) return true;
    const envelope: LimitEnvelope = { algorithm: rule.algorithm, state: step.state, expiresAt: step.expiresAt };
    const committed = await kv
      .atomic()
      .check({ key: kvKey, versionstamp: entry.versionstamp })
      .set(kvKey, envelope, { expireIn: Math.max(1, step.expiresAt - at) })
      .commit();
    return committed.ok;
  }

  async function consume(key: string, rule: RateLimitRule, cost: number): Promise<RateLimitDecision> {
    assertValidRule(rule, cost);
    const kvKey = limitKey(key, rule.algorithm);
    return untilCommitted(() => attempt(kvKey, rule, cost));
  }

  async function refund(key: string, rule: RateLimitRule, cost: number, admitted: RateLimitDecision): Promise<void> {
    assertValidRule(rule, cost);
    const kvKey = limitKey(key, rule.algorithm);
    await untilCommitted(async () => ((await refundAttempt(kvKey, rule, cost, admitted)) ? true : undefined));
  }

  /** Runs `once` until it commits (answers other than undefined), within `maxAttempts`. */
  async function untilCommitted<T>(once: () => Promise<T | undefined>): Promise<T> {
    for (let tries = 1; tries <= maxAttempts; tries++) {
      try {
        const done = await once();
        if (done !== undefined) return done;
      } catch (error) {
        // A local SQLite KV opened by several processes answers "database is locked" while another
        // one writes: contention, like a failed check, so it is tried again. Anything else is a failure.
        if (!LOCKED.test(String((error as Error)?.message))) throw error;
      }
      // Another writer changed or held the key: wait a little, at random, so contenders spread out.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** tries)));
    }
    throw new DenoKvContentionError(maxAttempts);
  }

  return {
    consume,
    refund,
    async get<T>(key: string) {
      const { value } = await kv.get(cacheKey(key));
      return openEnvelope<T>(value, now());
    },
    async set(key, value, ttlMs) {
      if (!(ttlMs >= 1)) {
        await kv.delete(cacheKey(key));
        return;
      }
      await kv.set(cacheKey(key), envelope(value, ttlMs, now()), { expireIn: Math.ceil(ttlMs) });
    },
    async delete(key) {
      await kv.delete(cacheKey(key));
    },
  };
}
