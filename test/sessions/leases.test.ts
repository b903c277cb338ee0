/**
 * The lease contract (lease-contract.ts) on every lease store that runs under Node: memory, Redis
 * (the real server on 127.0.0.1:6379) and unstorage on its Redis driver. Deno KV runs the same
 * contract under Deno (deno-kv.deno.ts, from deno-kv.test.ts). Redis keys carry this run's own
 * prefix and are removed afterwards.
 */
import { Redis } from "ioredis";
import { createStorage, type Storage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import redisDriver from "unstorage/drivers/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { unstorageStore } from "../../adapters/unstorage.ts";
import { memoryLeaseStore } from "../../src/sessions/memory.ts";
import { isFlightLockStore, isLeaseStore } from "../../src/sessions/types.ts";
import { leaseStoreContract } from "./lease-contract.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `tollgate-leases-${process.pid}-${Date.now().toString(36)}`;
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

describe("memory lease store", () => {
  // A memory store's data is the store itself: opened again on the same data, it is the same store.
  const memoryBackends = new Map<string, ReturnType<typeof memoryLeaseStore>>();
  const onMemory = (clock: { now: number }, backend: string) => {
    let store = memoryBackends.get(backend);
    if (!store) memoryBackends.set(backend, (store = memoryLeaseStore({ now: () => clock.now })));
    return store;
  };
  leaseStoreContract("memory", onMemory, { test: it, runs: 300 });

  it("forgets the users seen first when it holds maxUsers", async () => {
    const store = memoryLeaseStore({ maxUsers: 2 });
    for (const owner of ["a", "b", "c"]) await store.takeLease(owner, "l", "support", 1, 60_000);
    expect([await store.leaseCount("a"), await store.leaseCount("b"), await store.leaseCount("c")]).toEqual([0, 1, 1]);
    expect(() => memoryLeaseStore({ maxUsers: 0 })).toThrow(/maxUsers/);
  });
});

describe("redis lease store", () => {
  // One prefix per backend: a store opened again on it is a server that restarted.
  leaseStoreContract("redis", (clock, backend) => redisStore({ client: redis, prefix: `${runPrefix}-${backend}`, now: () => clock.now }), { test: it, runs: 60 });

  it("keeps a user's leases in one key, with a TTL, and no user id in any key", async () => {
    const prefix = nextPrefix();
    const store = redisStore({ client: redis, prefix });
    await store.takeLease("0123abcd", "lease-1", "support", 2, 60_000);
    expect((await redis.keys(`${prefix}:*`)).sort()).toEqual([`${prefix}:lease:{0123abcd}`, `${prefix}:leases:{support}`]);
    expect(await redis.pttl(`${prefix}:lease:{0123abcd}`)).toBeGreaterThan(60_000);
  });
});

describe("unstorage lease store", () => {
  // One storage (a connection and a base) per backend; each store opened on it is a server of its own.
  const backends = new Map<string, Storage>();
  const onRedis = (clock: { now: number }, backend = `lone-${++stores}`) => {
    let storage = backends.get(backend);
    if (!storage) {
      storage = createStorage({ driver: redisDriver({ url: REDIS_URL, base: `${runPrefix}-u-${backend}` }) });
      storages.push(storage);
      backends.set(backend, storage);
    }
    return unstorageStore({ storage, now: () => clock.now }) as ReturnType<typeof unstorageStore> & Parameters<typeof isLeaseStore>[0] & import("../../src/sessions/types.ts").LeaseStore;
  };
  leaseStoreContract("unstorage on redis", onRedis, { test: it, runs: 40 });

  it("offers leases and the lock on the Redis driver only", () => {
    const store = unstorageStore({ storage: createStorage({ driver: memoryDriver() }), onWarning: () => {} });
    expect(isLeaseStore(store)).toBe(false);
    expect(isFlightLockStore(store)).toBe(false);
    expect(isLeaseStore(onRedis({ now: 0 }))).toBe(true);
  });
});
