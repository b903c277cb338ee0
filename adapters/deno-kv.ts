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
 * Session leases: a user's leases are one value, `[prefix, "lease", owner]`, a map from lease to when
 * it lapses, changed by the same check-and-set; each live lease also has a key of its own under
 * `[prefix, "leases", profile]`, written in the same atomic commit, which the fleet-wide gauge lists.
 * The single-flight lock is `[prefix, "lock", key]`, holding its holder and when it lapses, taken
 * with a check that no live lock is there.
 *
 * A sliding window keeps a log of its admitted requests in one value, and a KV value holds at most
 * 64 KiB: about 1 500 requests per window and key. Use a fixed window or a token bucket for more.
 *
 * The adapter names only the parts of the Deno.Kv API it uses, so it type-checks without Deno's
 * globals and runs on any runtime that hands it a Kv.
 */
import { assertValidRule, rateLimitStep, refundStep, type LimitEnvelope } from "../src/rate-limit/algorithms.ts";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../src/rate-limit/types.ts";
import { OptionError, TollgateError } from "../src/errors.ts";
import { envelope, openEnvelope } from "../src/store/envelope.ts";
import { checkPrefix } from "../src/store/prefix.ts";
import type { CacheStore } from "../src/store/types.ts";
import { leaseMember, profileOfMember, type FlightLockStore, type LeaseDecision, type LeaseStore } from "../src/sessions/types.ts";

type KvKey = readonly (string | number)[];

interface KvEntry<T> {
  value: T | null;
  versionstamp: string | null;
}

interface KvAtomic {
  check(...checks: Array<{ key: KvKey; versionstamp: string | null }>): KvAtomic;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  /** Leases and the lock need it (Deno.Kv has it); the cache and rate limits do not. */
  delete?(key: KvKey): KvAtomic;
  commit(): Promise<{ ok: boolean }>;
}

/** The parts of `Deno.Kv` this store uses. */
export interface DenoKvLike {
  get<T = unknown>(key: KvKey): Promise<KvEntry<T>>;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: KvKey): Promise<void>;
  atomic(): KvAtomic;
  /** For the lease gauge: the entries under a key prefix (Deno.Kv has it; the cache and rate limits do not need it). */
  list?<T = unknown>(selector: { prefix: KvKey }): AsyncIterable<{ value: T }>;
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

export interface DenoKvStore extends CacheStore, RateLimitStore, LeaseStore, FlightLockStore {}

/**
 * A decision that could not commit within `maxAttempts`, other writers changing its key each time:
 * `store_unavailable` (503), which the store failure policies treat as a failure of the store. The
 * message, for the server's log, says how many attempts were made; the client reads the kind's title.
 */
export class DenoKvContentionError extends TollgateError {
  readonly attempts: number;

  constructor(attempts: number) {
    super("store_unavailable", { retryAfter: 1 });
    this.name = "DenoKvContentionError";
    this.message = `Deno KV: the key kept changing; gave up after ${attempts} attempts`;
    this.attempts = attempts;
  }
}

const LOCKED = /database is locked|SQLITE_BUSY/i;

function deleteIn(atomic: KvAtomic, key: KvKey): KvAtomic {
  if (!atomic.delete) throw new OptionError("denoKvStore: kv", "leases and locks need its atomic().delete()");
  return atomic.delete(key);
}

export function denoKvStore(options: DenoKvStoreOptions): DenoKvStore {
  const { kv } = options;
  if (!kv || typeof kv.atomic !== "function") throw new OptionError("denoKvStore: kv", "must be an open Deno.Kv");
  const prefix = checkPrefix("denoKvStore: prefix", options.prefix);
  const now = options.now ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 16;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new OptionError("denoKvStore: maxAttempts", "must be a positive integer");

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

  const leasesKey = (owner: string): KvKey => [prefix, "lease", owner];
  const tallyKey = (profile: string, id: string): KvKey => [prefix, "leases", profile, id];
  const lockKey = (key: string): KvKey => [prefix, "lock", key];
  type Leases = Record<string, number>;

  /**
   * One check-and-set on `owner`'s leases: `change` gets the live ones (lapsed ones removed and
   * named) and says what to keep, the answer, and which tally keys to set or delete alongside.
   */
  function changeLeases<T>(owner: string, change: (leases: Leases, at: number) => { answer: T; tally?: { member: string; until: number | undefined } }): Promise<T & { lapsed: string[] }> {
    return untilCommitted(async () => {
      const entry = await kv.get<{ leases: Leases }>(leasesKey(owner));
      const at = now();
      const leases: Leases = {};
      const lapsed: string[] = [];
      for (const [member, until] of Object.entries(entry.value?.leases ?? {})) {
        if (until > at) leases[member] = until;
        else lapsed.push(member);
      }
      const { answer, tally } = change(leases, at);
      const atomic = kv.atomic().check({ key: leasesKey(owner), versionstamp: entry.versionstamp });
      const lastLapse = Math.max(0, ...Object.values(leases));
      if (lastLapse > at) atomic.set(leasesKey(owner), { leases }, { expireIn: lastLapse - at + 60_000 });
      else deleteIn(atomic, leasesKey(owner));
      for (const member of lapsed) deleteIn(atomic, tallyKey(profileOfMember(member), member));
      if (tally) {
        const key = tallyKey(profileOfMember(tally.member), tally.member);
        if (tally.until === undefined) deleteIn(atomic, key);
        else atomic.set(key, { until: tally.until }, { expireIn: Math.max(1, tally.until - at) });
      }
      const committed = await atomic.commit();
      return committed.ok ? { ...answer, lapsed: lapsed.map(profileOfMember) } : undefined;
    });
  }

  const leaseStore: LeaseStore = {
    takeLease(owner, id, profile, limit, ttlMs) {
      const member = leaseMember(profile, id);
      return changeLeases<Omit<LeaseDecision, "lapsed">>(owner, (leases, at) => {
        const held = Object.keys(leases).length;
        if (member in leases || held < limit) {
          leases[member] = at + ttlMs;
          return { answer: { taken: true, held: Object.keys(leases).length }, tally: { member, until: at + ttlMs } };
        }
        return { answer: { taken: false, held, retryAfterMs: Math.min(...Object.values(leases)) - at } };
      }) as Promise<LeaseDecision>;
    },
    renewLease(owner, id, profile, ttlMs) {
      const member = leaseMember(profile, id);
      return changeLeases<{ renewed: boolean }>(owner, (leases, at) => {
        if (!(member in leases)) return { answer: { renewed: false } };
        leases[member] = at + ttlMs;
        return { answer: { renewed: true }, tally: { member, until: at + ttlMs } };
      });
    },
    releaseLease(owner, id, profile) {
      const member = leaseMember(profile, id);
      return changeLeases<{ released: boolean }>(owner, (leases) => {
        const released = member in leases;
        delete leases[member];
        return { answer: { released }, tally: { member, until: undefined } };
      });
    },
    async leaseCount(owner) {
      const { value } = await kv.get<{ leases: Leases }>(leasesKey(owner));
      const at = now();
      return Object.values(value?.leases ?? {}).filter((until) => until > at).length;
    },
    async activeLeases(profiles) {
      const at = now();
      const counts: Array<[string, number]> = [];
      for (const profile of profiles) {
        let count = 0;
        if (!kv.list) throw new OptionError("denoKvStore: kv", "counting leases needs its list()");
        for await (const entry of kv.list<{ until: number }>({ prefix: [prefix, "leases", profile] })) if (entry.value.until > at) count++;
        counts.push([profile, count]);
      }
      return Object.fromEntries(counts);
    },
  };

  const locks: FlightLockStore = {
    acquireLock(key, holder, ttlMs) {
      return untilCommitted(async () => {
        const entry = await kv.get<{ holder: string; until: number }>(lockKey(key));
        const at = now();
        if (entry.value && entry.value.until > at) return { taken: entry.value.holder === holder, holder: entry.value.holder };
        const committed = await kv
          .atomic()
          .check({ key: lockKey(key), versionstamp: entry.versionstamp })
          .set(lockKey(key), { holder, until: at + ttlMs }, { expireIn: Math.max(1, Math.ceil(ttlMs)) })
          .commit();
        return committed.ok ? { taken: true, holder } : undefined;
      });
    },
    async releaseLock(key, holder) {
      const entry = await kv.get<{ holder: string }>(lockKey(key));
      if (entry.value?.holder !== holder) return;
      // Only if nobody took it over in between.
      await deleteIn(kv.atomic().check({ key: lockKey(key), versionstamp: entry.versionstamp }), lockKey(key)).commit();
    },
  };

  return {
    ...leaseStore,
    ...locks,
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
