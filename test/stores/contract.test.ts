/**
 * The store contract (cache-contract.ts, rate-limit-contract.ts) against every store that runs
 * under Node: memory, Redis (the real server on 127.0.0.1:6379), and unstorage on its memory,
 * lru-cache (which drops entries to make room) and Redis drivers. Deno KV runs the same contract under Deno (test/deno-kv.deno.ts).
 *
 * Redis keys carry a prefix of this run's own, a fresh one per store, and are removed afterwards.
 */
import { Redis } from "ioredis";
import { createStorage, type Storage } from "unstorage";
import lruCacheDriver from "unstorage/drivers/lru-cache";
import memoryDriver from "unstorage/drivers/memory";
import redisDriver from "unstorage/drivers/redis";
import { afterAll, beforeAll, describe, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { unstorageStore } from "../../adapters/unstorage.ts";
import { memoryRateLimitStore } from "../../src/rate-limit/memory-store.ts";
import { withFailurePolicy } from "../../src/store/failure-policy.ts";
import { memoryCache } from "../../src/store/memory-cache.ts";
import { cacheStoreContract, type Register } from "./cache-contract.ts";
import { rateLimitStoreContract } from "./rate-limit-contract.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `tollgate-contract-${process.pid}-${Date.now().toString(36)}`;
let stores = 0;
const nextPrefix = () => `${runPrefix}-${++stores}`;

let redis: Redis;
const storages: Storage[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  await Promise.all(storages.map((storage) => storage.dispose()));
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${runPrefix}*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  redis.disconnect();
});

const test: Register = (name, body) => it(name, body);
// The property checks decide thousands of times; across a network that takes a while.
const slowTest: Register = (name, body) => it(name, body, 120_000);

function unstorageOnRedis(now: () => number) {
  const storage = createStorage({ driver: redisDriver({ url: REDIS_URL, base: nextPrefix() }) });
  storages.push(storage);
  return unstorageStore({ storage, now, onWarning: () => {} });
}

function unstorageInMemory(now: () => number) {
  return unstorageStore({ storage: createStorage({ driver: memoryDriver() }), now, onWarning: () => {} });
}

describe("memory stores", () => {
  cacheStoreContract("memory", (clock) => memoryCache({ now: () => clock.now }), {
    test,
    expiresOnClock: true,
    bounded: (maxEntries, clock) => memoryCache({ maxEntries, now: () => clock.now }),
  });
  // The wrapper every shared store runs behind passes `linked` on to it.
  cacheStoreContract("memory behind the failure policy", (clock) => withFailurePolicy(memoryCache({ now: () => clock.now }), "closed"), {
    test,
    expiresOnClock: true,
    bounded: (maxEntries, clock) => withFailurePolicy(memoryCache({ maxEntries, now: () => clock.now }), "memory"),
  });
  rateLimitStoreContract("memory", (clock) => memoryRateLimitStore({ now: () => clock.now }), {
    test,
    mode: "atomic",
    propertyRuns: { scenarios: 400, retries: 300 },
  });
});

describe("redis store", () => {
  // Cache entries expire on Redis's clock (PX), so those cases wait in real time.
  cacheStoreContract("redis", () => redisStore({ client: redis, prefix: nextPrefix() }), { test, expiresOnClock: false });
  rateLimitStoreContract("redis", (clock) => redisStore({ client: redis, prefix: nextPrefix(), now: () => clock.now }), {
    test: slowTest,
    mode: "atomic",
    propertyRuns: { scenarios: 60, retries: 40 },
  });
});

describe("unstorage store on the memory driver", () => {
  cacheStoreContract("unstorage memory", (clock) => unstorageInMemory(() => clock.now), { test, expiresOnClock: true });
  rateLimitStoreContract("unstorage memory", (clock) => unstorageInMemory(() => clock.now), {
    test,
    mode: "best-effort",
    propertyRuns: { scenarios: 100, retries: 60 },
  });
});

describe("unstorage store on the lru-cache driver", () => {
  const onLru = (now: () => number, max?: number) => unstorageStore({ storage: createStorage({ driver: lruCacheDriver(max ? { max } : {}) }), now, onWarning: () => {} });
  cacheStoreContract("unstorage lru-cache", (clock) => onLru(() => clock.now), { test, expiresOnClock: true, bounded: (maxEntries, clock) => onLru(() => clock.now, maxEntries) });
});

describe("unstorage store on the redis driver", () => {
  cacheStoreContract("unstorage redis", (clock) => unstorageOnRedis(() => clock.now), { test, expiresOnClock: true });
  rateLimitStoreContract("unstorage redis", (clock) => unstorageOnRedis(() => clock.now), {
    test: slowTest,
    mode: "atomic",
    propertyRuns: { scenarios: 15, retries: 15 },
  });
});
