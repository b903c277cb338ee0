/**
 * tollgate/unstorage: the cache and rate-limit stores on any unstorage driver.
 *
 *   import { createStorage } from "unstorage";
 *   import redisDriver from "unstorage/drivers/redis";
 *   import { unstorageStore } from "tollgate/unstorage";
 *   const store = unstorageStore({ storage: createStorage({ driver: redisDriver({ url }) }) });
 *
 * Options:
 * - `storage`: an unstorage `Storage`, with whatever driver and mounts it has.
 * - `prefix`: the start of every key, default `tollgate`: 1 to 64 letters, digits, `_ . : -`.
 * - `now`: a clock in epoch ms, for tests. Default `Date.now` (the Redis server's clock on Redis).
 * - `onWarning`: told once when rate limits cannot be atomic on the driver. Default `console.warn`.
 *
 * The cache works on every driver. Each entry carries its expiry, so it is never served late even
 * where the driver ignores unstorage's `ttl` option; where the driver honours it (Redis, among
 * others), the entry is also removed on time. Keys are `<prefix>:cache:<key>` and
 * `<prefix>:rl:<key>:<algorithm>` (on the Redis driver, limits use tollgate/redis's keys). unstorage rewrites some characters in keys (`/` and `\` become
 * `:`, `::` becomes `:`, everything from `?` on is cut, `.` and `..` segments are refused), so a
 * key segment holding any of them, or empty, is percent-encoded first: two keys never meet in one
 * entry. Keys of letters, digits and `_ . : -` in non-empty segments, as tollgate's own are, are
 * stored as they are.
 *
 * Some drivers drop entries before their TTL: lru-cache holds at most `max` entries (1 000 unless
 * told), and drops the least recently used, so a token's record can go while its reuse entry, read
 * on every reload, stays. That costs a mint, never a reuse: the issuer takes a reuse entry only
 * while the record it names is there, which on this store takes a second read. A dropped record's
 * reports are answered 404, though, so give such a driver room for every live token (two entries
 * each). `set`'s `linked` is ignored.
 *
 * Rate limits are atomic only when the key's driver is unstorage's Redis driver: decisions then run
 * as the Lua scripts of tollgate/redis on that driver's own ioredis client. Any other driver has no
 * atomic read-and-write, so decisions are serialised within this process but several processes can
 * interleave a read and a write and together admit more than the limit. The store says so once,
 * through `onWarning`. Refunds (units given back for a mint that failed upstream) follow the same
 * rule: a script on Redis, a read and a write serialised in this process elsewhere.
 *
 * Session leases and the fleet-wide single-flight lock need atomic operations too, so the store
 * offers them on the Redis driver only (tollgate/redis's scripts, on the driver's client). On any
 * other driver it has none: a handler with `sessions` then holds leases in its own process, and
 * each process mints for itself.
 */
import type { Storage } from "unstorage";
import { redisRateLimitStore } from "./redis.ts";
import { redisSessionStore } from "./redis-sessions.ts";
import type { FlightLockStore, LeaseStore } from "../src/sessions/types.ts";
import { assertValidRule, rateLimitStep, refundStep, type LimitEnvelope } from "../src/rate-limit/algorithms.ts";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../src/rate-limit/types.ts";
import { OptionError } from "../src/errors.ts";
import { envelope, openEnvelope } from "../src/store/envelope.ts";
import { checkPrefix } from "../src/store/prefix.ts";
import type { CacheStore } from "../src/store/types.ts";

export interface UnstorageStoreOptions {
  /** An unstorage Storage, any driver. */
  storage: Storage;
  /** The start of every key. Default `tollgate`. */
  prefix?: string;
  /** Clock, epoch ms, for tests. Default `Date.now` (the server's TIME for limits on Redis). */
  now?: () => number;
  /** Told once that limits are best-effort on this driver. Default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** On the Redis driver it also holds session leases and the single-flight lock. */
export interface UnstorageStore extends CacheStore, RateLimitStore, Partial<LeaseStore & FlightLockStore> {
  /** `atomic` on the Redis driver, `best-effort` on any other. */
  readonly rateLimitMode: "atomic" | "best-effort";
}

/** The ioredis client behind unstorage's Redis driver, when that is the driver for `key`. */
function redisClientOf(storage: Storage, key: string): { client: Parameters<typeof redisRateLimitStore>[0]["client"]; base: string } | undefined {
  const { driver } = storage.getMount(key);
  if (driver.name !== "redis" || typeof driver.getInstance !== "function") return undefined;
  const base = String((driver.options as { base?: string } | undefined)?.base ?? "").replace(/:$/, "");
  return { client: driver.getInstance(), base };
}

const PLAIN_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/**
 * `key` in a form unstorage keeps as it is, one to one. A segment (between colons) that is plain
 * stays; any other is percent-encoded, which leaves only `A-Za-z0-9 - _ . ! ~ * ' ( ) %`. The
 * segments percent-encoding cannot make safe, `""`, `.` and `..`, get codes it never produces
 * (a lone `%`, lowercase hex), so no two keys can map to one.
 */
function safeKey(key: string): string {
  return key
    .split(":")
    .map((segment) => {
      if (segment === "") return "%";
      if (segment === ".") return "%2e";
      if (segment === "..") return "%2e%2e";
      return PLAIN_SEGMENT.test(segment) ? segment : encodeURIComponent(segment);
    })
    .join(":");
}

export function unstorageStore(options: UnstorageStoreOptions): UnstorageStore {
  const { storage } = options;
  if (!storage || typeof storage.getItem !== "function") throw new OptionError("unstorageStore: storage", "must be an unstorage Storage (createStorage())");
  const prefix = checkPrefix("unstorageStore: prefix", options.prefix);
  const now = options.now ?? Date.now;
  const warn = options.onWarning ?? ((message: string) => console.warn(message));

  const cacheKey = (key: string) => `${prefix}:cache:${safeKey(key)}`;
  const limitKey = (key: string, algorithm: RateLimitAlgorithm) => `${prefix}:rl:${safeKey(key)}:${algorithm}`;

  // On the Redis driver, the scripts of tollgate/redis run on the driver's own client, with keys
  // under the driver's base so that they sit beside the rest of this storage's keys.
  // The base joins the prefix, so the two together keep the one prefix rule.
  const redis = redisClientOf(storage, `${prefix}:rl`);
  const redisPrefix = redis ? checkPrefix("unstorageStore: the Redis driver's base and prefix together", redis.base ? `${redis.base}:${prefix}` : prefix) : prefix;
  const atomic = redis ? redisRateLimitStore({ client: redis.client, prefix: redisPrefix, ...(options.now ? { now: options.now } : {}) }) : undefined;
  const sessions = redis ? redisSessionStore({ client: redis.client, prefix: redisPrefix, ...(options.now ? { now: options.now } : {}) }) : undefined;

  // Without atomic operations, one decision per key at a time in this process at least.
  const queues = new Map<string, Promise<unknown>>();
  function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    queues.set(key, settled);
    void settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    return next;
  }

  let warned = false;
  async function bestEffortConsume(key: string, rule: RateLimitRule, cost: number): Promise<RateLimitDecision> {
    assertValidRule(rule, cost);
    if (!warned) {
      warned = true;
      warn(
        `tollgate: the unstorage driver "${storage.getMount(limitKey(key, rule.algorithm)).driver.name ?? "unknown"}" cannot update a key atomically, ` +
          "so rate limits are exact within one process only and several processes together can admit more. " +
          "Use unstorage's redis driver, or tollgate/redis, to hold limits across servers.",
      );
    }
    const storageKey = limitKey(key, rule.algorithm);
    return serialised(storageKey, async () => {
      const at = now();
      const stored = await storage.getItem<LimitEnvelope>(storageKey);
      const current = stored && stored.algorithm === rule.algorithm && stored.expiresAt > at ? stored.state : undefined;
      const step = rateLimitStep(current, rule, cost, at);
      if (step.changed) {
        const envelope: LimitEnvelope = { algorithm: rule.algorithm, state: step.state, expiresAt: step.expiresAt };
        await storage.setItem(storageKey, envelope, { ttl: Math.max(1, Math.ceil((step.expiresAt - at) / 1000)) });
      }
      return step.decision;
    });
  }

  async function bestEffortRefund(key: string, rule: RateLimitRule, cost: number, admitted: RateLimitDecision): Promise<void> {
    assertValidRule(rule, cost);
    const storageKey = limitKey(key, rule.algorithm);
    await serialised(storageKey, async () => {
      const at = now();
      const stored = await storage.getItem<LimitEnvelope>(storageKey);
      if (!stored || stored.algorithm !== rule.algorithm || stored.expiresAt <= at) return;
      const step = refundStep(stored.state, rule, cost, admitted, at);
      if (!step) return;
      const envelope: LimitEnvelope = { algorithm: rule.algorithm, state: step.state, expiresAt: step.expiresAt };
      await storage.setItem(storageKey, envelope, { ttl: Math.max(1, Math.ceil((step.expiresAt - at) / 1000)) });
    });
  }

  return {
    ...sessions,
    rateLimitMode: atomic ? "atomic" : "best-effort",
    consume: atomic ? atomic.consume : bestEffortConsume,
    refund: atomic ? atomic.refund! : bestEffortRefund,
    async get<T>(key: string) {
      return openEnvelope<T>(await storage.getItem(cacheKey(key)), now());
    },
    async set(key, value, ttlMs) {
      if (!(ttlMs >= 1)) {
        await storage.removeItem(cacheKey(key));
        return;
      }
      // unstorage's `ttl` is in seconds; rounding up keeps the entry until its own expiry has passed.
      await storage.setItem(cacheKey(key), envelope(value, ttlMs, now()), { ttl: Math.ceil(ttlMs / 1000) });
    },
    async delete(key) {
      await storage.removeItem(cacheKey(key));
    },
  };
}
