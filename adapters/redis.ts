/**
 * tollgate/redis: the cache and rate-limit stores on Redis or Valkey, through ioredis.
 *
 *   import Redis from "ioredis";
 *   import { redisStore } from "tollgate/redis";
 *   const store = redisStore({ client: new Redis(process.env.REDIS_URL, { enableOfflineQueue: false }) });
 *   createTokenHandler({ ..., store }); // the token cache and the rate limits, shared by every server
 *
 * Options:
 * - `client`: an ioredis `Redis` or `Cluster` you already run. `enableOfflineQueue: false` is
 *   advised: with the queue on, decisions made while Redis is down wait in the client and are
 *   counted after it returns, for requests that were long answered.
 * - `url`: instead of `client`, a `redis://` or `rediss://` URL; the store then makes its own client,
 *   tuned to fail fast while Redis is down and to reconnect by itself, and `close()` ends it.
 * - `commandTimeoutMs`: with `url`, the longest any command may wait for Redis's answer, default
 *   2 000, so that a Redis that accepts connections but does not answer cannot hold a request.
 * - `prefix`: the start of every key, default `tollgate`: 1 to 64 letters, digits, `_ . : -`. Give
 *   each app (or each test run) its own.
 * - `now`: a clock in epoch ms for rate-limit decisions and session leases. Default: the Redis server's own clock (TIME),
 *   which is one clock for every app server, so skew between them cannot bend a window.
 *
 * Session leases and the fleet-wide single-flight lock are Lua scripts too (adapters/redis-sessions.ts).
 *
 * A cache hit costs one round trip: the handler starts the rate-limit decision and the cache read
 * together, and ioredis's auto-pipelining (`enableAutoPipelining: true`, which the client made from
 * `url` has) sends both in one write. Pass it on a client of your own to get the same. The cache read
 * is itself one script: a token's reuse entry names the key of the token's record, and the script
 * answers the entry only while that record is there (and otherwise deletes the entry). On Redis
 * Cluster the two keys live in different slots, which one script may not touch, so there the store
 * leaves that check to tollgate's two reads and a cache hit costs a second round trip.
 *
 * Each rate-limit decision is one Lua script (EVALSHA, with EVAL when the script cache is empty),
 * so it is atomic and costs one round trip; so is each refund (units given back for a mint that
 * failed upstream). Refunds are exact for the fixed window; for the sliding window too, except
 * when the clock had stepped back at the admitting decision (then nothing is given back); for the
 * token bucket as refundStep in src/rate-limit/algorithms.ts says (exact unless other requests
 * came in between and the bucket would have filled up meanwhile). A decision's keys share one hash tag, so they live in
 * one Redis Cluster slot. Cache entries are plain strings holding JSON, with a real TTL (PX), under
 * `<prefix>:cache:<key>`.
 *
 * Eviction: Redis drops a key before its TTL only when it runs out of memory and its
 * `maxmemory-policy` picks one, and every policy but `noeviction` may pick a token's record before
 * the reuse entry that points at it (`volatile-ttl` and the LRU and LFU policies sample keys rather
 * than rank them all). That costs a mint, never a reuse: the cache read above answers no reuse entry
 * whose record is gone. What an eviction does cost: an evicted record's reports are answered 404, so
 * its session's end goes uncounted, and an evicted rate-limit count or lease set starts again from
 * zero, so a user may briefly get more than the limits allow. With `noeviction` nothing is lost:
 * writes fail instead while Redis is full, and the store failure policy answers them. The store
 * ignores `set`'s `linked` key.
 *
 * With `url`, a failed command carries the connection's last error as its `cause` (`connect
 * ECONNREFUSED ...` rather than only "Stream isn't writeable"), so logs and readiness say why.
 */
import type { Cluster, Redis } from "ioredis";
import { assertValidRule, retrySeconds } from "../src/rate-limit/algorithms.ts";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../src/rate-limit/types.ts";
import { redisSessionStore, sessionScriptsOn, type RedisSessionStore } from "./redis-sessions.ts";
import { OptionError } from "../src/errors.ts";
import { checkPrefix } from "../src/store/prefix.ts";
import type { CacheStore } from "../src/store/types.ts";

export interface RedisStoreOptions {
  /** An ioredis Redis or Cluster client; `enableOfflineQueue: false` advised. */
  client?: Redis | Cluster;
  /** Instead of `client`: a redis:// or rediss:// URL for a client the store makes and closes. */
  url?: string;
  /** With `url`: the longest a command waits for an answer, in ms. Default 2 000. */
  commandTimeoutMs?: number;
  /** The start of every key. Default `tollgate`. */
  prefix?: string;
  /** Clock for rate-limit decisions and session leases, epoch ms. Default: the Redis server's TIME. */
  now?: () => number;
}

export interface RedisStore extends CacheStore, RateLimitStore, RedisSessionStore {
  /** Ends the client when the store made it from `url`; leaves a client you passed alone. */
  close(): Promise<void>;
}

// Shared by every script: limit, window and cost from ARGV, and `now` from ARGV[4] or the server.
const SCRIPT_PRELUDE = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
-- Keys outlive the moment their state stops mattering by a minute, so that a decision made on a
-- clock slightly behind another still finds them.
local function keep(until_ms) return int(math.max(1, until_ms - now) + 60000) end
`;

// Each script returns {allowed (1/0), remaining, resetAt (epoch ms), wait in ms before a retry}.
// They mirror the steps in src/rate-limit/algorithms.ts, line for line where they can.

/** KEYS[1]: a string "<window start>:<units used>", read with GET and written with SET PX. */
const FIXED_WINDOW = `${SCRIPT_PRELUDE}
local start = now - (now % window)
local used = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local storedStart, storedUsed = string.match(stored, '^(%d+):(%d+)$')
  storedStart = tonumber(storedStart)
  if storedStart and storedStart >= start then
    -- Same window, or this clock stepped back into an earlier one: keep counting the stored window.
    start = storedStart
    used = tonumber(storedUsed)
  end
end
local reset = start + window
if used + cost <= limit then
  used = used + cost
  redis.call('SET', KEYS[1], int(start) .. ':' .. int(used), 'PX', keep(reset))
  return {1, limit - used, reset, 0}
end
return {0, limit - used, reset, reset - now}
`;

/** KEYS[1]: a sorted set with one member per admitted unit, scored by time; KEYS[2]: the member counter. */
const SLIDING_WINDOW = `${SCRIPT_PRELUDE}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now - window))
local used = redis.call('ZCARD', KEYS[1])
local allowed = 0
local wait = 0
if used + cost <= limit then
  allowed = 1
  local last = redis.call('INCRBY', KEYS[2], cost)
  for member = last - cost + 1, last do
    redis.call('ZADD', KEYS[1], int(now), int(member))
  end
  used = used + cost
else
  -- Wait until enough of the oldest units have left the window to make room for this request.
  local mustLeave = used + cost - limit
  local oldest = redis.call('ZRANGE', KEYS[1], mustLeave - 1, mustLeave - 1, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
end
local reset = now
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then reset = math.max(now, tonumber(newest[2]) + window) end
if allowed == 1 then
  redis.call('PEXPIRE', KEYS[1], keep(reset))
  redis.call('PEXPIRE', KEYS[2], keep(reset))
end
return {allowed, limit - used, reset, wait}
`;

/** KEYS[1]: a string "<tokens × window>:<when that level was brought up to date>". */
const TOKEN_BUCKET = `${SCRIPT_PRELUDE}
local capacity = limit * window
local level = capacity
local updated = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local storedLevel, storedUpdated = string.match(stored, '^(%d+):(%d+)$')
  if storedLevel then
    level = tonumber(storedLevel)
    updated = tonumber(storedUpdated)
  end
end
if now > updated then
  level = math.min(capacity, level + (now - updated) * limit)
  updated = now
end
local needed = cost * window
local allowed = 0
local wait = 0
if level >= needed then
  allowed = 1
  level = level - needed
else
  wait = math.ceil((needed - level) / limit)
end
local reset = math.max(now, updated) + math.ceil((capacity - level) / limit)
if allowed == 1 then
  redis.call('SET', KEYS[1], int(level) .. ':' .. int(updated), 'PX', keep(reset))
end
return {allowed, math.floor(level / window), reset, wait}
`;

// The refunds: ARGV as above, and ARGV[5] the resetAt of the decision that admitted the units. Each
// gives them back as refundStep in src/rate-limit/algorithms.ts does, and returns 1 when it did.

/** The stored window is the admitted one only when it ends at that decision's resetAt. */
const FIXED_WINDOW_REFUND = `${SCRIPT_PRELUDE}
local admittedStart = tonumber(ARGV[5]) - window
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local storedStart, storedUsed = string.match(stored, '^(%d+):(%d+)$')
if not storedStart or tonumber(storedStart) ~= admittedStart or tonumber(storedUsed) == 0 then return 0 end
local used = math.max(0, tonumber(storedUsed) - cost)
redis.call('SET', KEYS[1], int(admittedStart) .. ':' .. int(used), 'PX', keep(admittedStart + window))
return 1
`;

/**
 * The admitted units were the newest in the set, scored at resetAt - window; any `cost` members of
 * that score are theirs or a request's of the same millisecond, which counts the same.
 */
const SLIDING_WINDOW_REFUND = `${SCRIPT_PRELUDE}
local loggedAt = tonumber(ARGV[5]) - window
local members = redis.call('ZRANGEBYSCORE', KEYS[1], int(loggedAt), int(loggedAt), 'LIMIT', 0, cost)
if #members == 0 then return 0 end
redis.call('ZREM', KEYS[1], unpack(members))
return 1
`;

/** Until the bucket would be full by itself: refilled to now, then the tokens go back, never past full. */
const TOKEN_BUCKET_REFUND = `${SCRIPT_PRELUDE}
if now >= tonumber(ARGV[5]) then return 0 end
local capacity = limit * window
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local storedLevel, storedUpdated = string.match(stored, '^(%d+):(%d+)$')
if not storedLevel then return 0 end
local level = tonumber(storedLevel)
local updated = tonumber(storedUpdated)
if now > updated then
  level = math.min(capacity, level + (now - updated) * limit)
  updated = now
end
level = math.min(capacity, level + cost * window)
local reset = math.max(now, updated) + math.ceil((capacity - level) / limit)
redis.call('SET', KEYS[1], int(level) .. ':' .. int(updated), 'PX', keep(reset))
return 1
`;

interface ScriptSpec {
  command: string;
  lua: string;
  refundCommand: string;
  refundLua: string;
  /** The keys one decision touches, all under the one hash tag `{key}`. */
  keys: (tagged: string) => string[];
}

const SCRIPTS: Record<RateLimitAlgorithm, ScriptSpec> = {
  "fixed-window": { command: "tollgateFixedWindow", lua: FIXED_WINDOW, refundCommand: "tollgateFixedWindowRefund", refundLua: FIXED_WINDOW_REFUND, keys: (tagged) => [`${tagged}:fw`] },
  "sliding-window": {
    command: "tollgateSlidingWindow",
    lua: SLIDING_WINDOW,
    refundCommand: "tollgateSlidingWindowRefund",
    refundLua: SLIDING_WINDOW_REFUND,
    keys: (tagged) => [`${tagged}:sw`, `${tagged}:sw:seq`],
  },
  "token-bucket": { command: "tollgateTokenBucket", lua: TOKEN_BUCKET, refundCommand: "tollgateTokenBucketRefund", refundLua: TOKEN_BUCKET_REFUND, keys: (tagged) => [`${tagged}:tb`] },
};

type ScriptCommand = (...args: Array<string | number>) => Promise<[number, number, number, number]>;
type RefundCommand = (...args: Array<string | number>) => Promise<number>;

interface Scripts {
  consume: Record<RateLimitAlgorithm, ScriptCommand>;
  refund: Record<RateLimitAlgorithm, RefundCommand>;
}

/**
 * Registers the scripts on a client once. ioredis then sends each as EVALSHA and falls back to EVAL
 * when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH).
 */
function scriptsOn(client: Redis | Cluster): Scripts {
  const commands = client as unknown as Record<string, ((...args: Array<string | number>) => Promise<never>) | undefined>;
  for (const spec of Object.values(SCRIPTS)) {
    for (const [name, lua] of [[spec.command, spec.lua], [spec.refundCommand, spec.refundLua]] as const) {
      if (typeof commands[name] !== "function") client.defineCommand(name, { numberOfKeys: spec.keys("").length, lua });
    }
  }
  const bound = (name: string) => {
    const command = commands[name]!;
    return (...args: Array<string | number>) => command.apply(client, args);
  };
  const each = <T>(pick: (spec: ScriptSpec) => string) =>
    Object.fromEntries(Object.entries(SCRIPTS).map(([algorithm, spec]) => [algorithm, bound(pick(spec))])) as Record<RateLimitAlgorithm, T>;
  return { consume: each<ScriptCommand>((spec) => spec.command), refund: each<RefundCommand>((spec) => spec.refundCommand) };
}

/**
 * A rate-limit store on an ioredis client: what redisStore uses, and what the unstorage adapter uses
 * when its driver is Redis.
 */
export function redisRateLimitStore(options: { client: Redis | Cluster | Promise<Redis | Cluster>; prefix?: string; now?: () => number }): RateLimitStore {
  const prefix = checkPrefix("redisRateLimitStore: prefix", options.prefix);
  let scripts: Scripts | undefined;
  const clientReady = Promise.resolve(options.client);
  return {
    async consume(key: string, rule: RateLimitRule, cost: number): Promise<RateLimitDecision> {
      assertValidRule(rule, cost);
      scripts ??= scriptsOn(await clientReady);
      const spec = SCRIPTS[rule.algorithm];
      const keys = spec.keys(`${prefix}:rl:{${key}}`);
      const now = options.now ? String(options.now()) : "";
      const [allowed, remaining, resetAt, waitMs] = await scripts.consume[rule.algorithm](...keys, rule.limit, rule.windowMs, cost, now);
      return {
        allowed: allowed === 1,
        limit: rule.limit,
        remaining,
        resetAt,
        retryAfter: allowed === 1 ? 0 : retrySeconds(waitMs),
      };
    },
    async refund(key: string, rule: RateLimitRule, cost: number, admitted: RateLimitDecision): Promise<void> {
      assertValidRule(rule, cost);
      if (!Number.isSafeInteger(admitted?.resetAt)) throw new TypeError("rate limit: refund needs the decision that admitted the units");
      scripts ??= scriptsOn(await clientReady);
      const keys = SCRIPTS[rule.algorithm].keys(`${prefix}:rl:{${key}}`);
      const now = options.now ? String(options.now()) : "";
      await scripts.refund[rule.algorithm](...keys, rule.limit, rule.windowMs, cost, now, admitted.resetAt);
    },
  };
}

/**
 * The Lua script of a dependent read (CacheStore.getDependent). KEYS[1]: the entry; ARGV[1]: what
 * comes before a cache key in Redis (the client's keyPrefix and `<prefix>:cache:`). The key the
 * entry names is read from its JSON, so it cannot be declared in KEYS: fine on one Redis, refused
 * by a Cluster node when it falls in another slot (the store has no dependent read there).
 */
const GET_DEPENDENT = `
local text = redis.call('GET', KEYS[1])
if not text then return false end
local ok, value = pcall(cjson.decode, text)
local named = ok and type(value) == 'table' and value.dependsOn
if type(named) == 'string' and redis.call('EXISTS', ARGV[1] .. named) == 1 then return text end
redis.call('DEL', KEYS[1])
return false
`;

/**
 * `redis`, with every script the store runs defined on it before the store sends any command.
 * ioredis's auto-pipelining copies a client's script commands into a pipeline when it starts one,
 * so a script defined later, while a pipeline of the same tick is open, is missing from it (and
 * that pipeline fails): defined one by one on first use, the rate-limit script and the cache read,
 * which a request starts together, would meet that.
 */
function withScripts<C extends Redis | Cluster>(redis: C): C {
  scriptsOn(redis);
  sessionScriptsOn(redis);
  const commands = redis as unknown as Record<string, unknown>;
  if (typeof commands.tollgateGetDependent !== "function") redis.defineCommand("tollgateGetDependent", { numberOfKeys: 1, lua: GET_DEPENDENT });
  return redis;
}

/** A client made from a URL, and the last error it reported about its connection (cleared once it is ready). */
interface OwnClient {
  client: Redis;
  connectionError: () => Error | undefined;
}

async function clientFromUrl(url: string, commandTimeoutMs: number): Promise<OwnClient> {
  const { Redis } = await import("ioredis").catch((cause: unknown) => {
    throw new Error("redisStore: a redis:// URL needs the ioredis package (npm install ioredis)", { cause });
  });
  const client = new Redis(url, {
    // Fail each command at once while disconnected, so the limiter's failure policy decides
    // instead of a queue that replays stale decisions later.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: commandTimeoutMs,
    lazyConnect: true,
    // Commands issued in one turn of the event loop go out in one write: a cache hit's rate-limit
    // decision and cache read share a round trip.
    enableAutoPipelining: true,
    // Keep trying to reconnect, never more than a second apart, so service resumes soon after Redis does.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  // Commands that fail while the client is disconnected say only that the stream is not writeable;
  // the connection's own error says why, so it is kept for their `cause`. Listening also keeps an
  // 'error' event from ending the process.
  let connectionError: Error | undefined;
  client.on("error", (error: Error) => (connectionError = error));
  client.on("ready", () => (connectionError = undefined));
  // With the offline queue off, the first commands must wait for the first connection; if it fails,
  // the client goes on reconnecting and commands fail fast until it succeeds.
  await client.connect().catch((error: Error) => (connectionError ??= error));
  return { client, connectionError: () => connectionError };
}

/**
 * `store` with each operation's failure given `cause()` as its cause, when it has none of its own.
 * Only for a client the store made, whose 'error' events it hears.
 */
function withConnectionCause<S extends object>(store: S, cause: () => Error | undefined): S {
  const explain = (error: unknown) => {
    const why = cause();
    if (why && error instanceof Error && error !== why && error.cause === undefined) error.cause = why;
    throw error;
  };
  const explained: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    explained[name] = typeof value === "function" ? (...args: unknown[]) => (value as (...args: unknown[]) => Promise<unknown>)(...args).catch(explain) : value;
  }
  return explained as S;
}

export function redisStore(options: RedisStoreOptions): RedisStore {
  if (!options.client && !options.url) throw new OptionError("redisStore", "pass a client or a url");
  if (options.client && options.url) throw new OptionError("redisStore", "pass a client or a url, not both");
  if (options.url !== undefined && !/^rediss?:\/\//.test(options.url)) throw new OptionError("redisStore: url", "must start with redis:// or rediss://");
  const prefix = checkPrefix("redisStore: prefix", options.prefix);
  const commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
  if (!(commandTimeoutMs > 0) || !Number.isFinite(commandTimeoutMs)) throw new OptionError("redisStore: commandTimeoutMs", "must be a positive number");
  let own: OwnClient | undefined;
  const ownClient = options.url ? clientFromUrl(options.url, commandTimeoutMs).then((made) => (own = made)) : undefined;
  const client = (ownClient ? ownClient.then((made) => made.client) : Promise.resolve(options.client!)).then(withScripts);
  // Avoid an unhandled rejection before the first command awaits it; the command then reports it.
  client.catch(() => {});
  const limiter = redisRateLimitStore({ client, prefix, ...(options.now ? { now: options.now } : {}) });
  const sessions = redisSessionStore({ client, prefix, ...(options.now ? { now: options.now } : {}) });
  const cacheKey = (key: string) => `${prefix}:cache:${key}`;

  let getDependentScript: ((key: string) => Promise<string | null>) | undefined;
  async function getDependent<T>(key: string): Promise<T | undefined> {
    if (!getDependentScript) {
      const redis = await client;
      const command = (redis as unknown as Record<string, (...args: string[]) => Promise<string | null>>).tollgateGetDependent!;
      // ioredis puts its keyPrefix before KEYS, not before the key the script builds from ARGV.
      const keyStart = `${(redis.options as { keyPrefix?: string }).keyPrefix ?? ""}${cacheKey("")}`;
      getDependentScript = (entry) => command.call(redis, cacheKey(entry), keyStart);
    }
    const text = await getDependentScript(key);
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  const store: RedisStore = {
    ...sessions,
    consume: limiter.consume,
    refund: limiter.refund!,
    async get<T>(key: string) {
      const text = await (await client).get(cacheKey(key));
      return text === null ? undefined : (JSON.parse(text) as T);
    },
    // One script on one Redis; a Cluster has none (see above).
    ...(options.client?.isCluster ? {} : { getDependent }),
    async set(key, value, ttlMs) {
      const redis = await client;
      if (!(ttlMs >= 1)) {
        // Nothing to keep: an entry that is already expired is an absent one.
        await redis.del(cacheKey(key));
        return;
      }
      await redis.set(cacheKey(key), JSON.stringify(value), "PX", Math.ceil(ttlMs));
    },
    async delete(key) {
      await (await client).del(cacheKey(key));
    },
    async close() {
      if (ownClient) (await ownClient).client.disconnect();
    },
  };
  return ownClient ? withConnectionCause(store, () => own?.connectionError()) : store;
}
