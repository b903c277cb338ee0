import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Redis } from "ioredis";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import memoryDriver from "unstorage/drivers/memory";
import redisDriver from "unstorage/drivers/redis";
import { afterAll, describe, expect, it } from "vitest";
import { unstorageStore } from "../adapters/unstorage.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { runScenario, scenarioArbitrary, type StoreFactory } from "./rate-limit-harness.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const base = `tollgate-unstorage-${process.pid}-${Date.now().toString(36)}`;
const redis = new Redis(REDIS_URL);
const directory = mkdtempSync(join(tmpdir(), "tollgate-unstorage-"));
const redisStorages: Array<ReturnType<typeof createStorage>> = [];

function redisStorage(suffix: string) {
  const storage = createStorage({ driver: redisDriver({ url: REDIS_URL, base: `${base}-${suffix}` }) });
  redisStorages.push(storage);
  return storage;
}

afterAll(async () => {
  const keys = await redis.keys(`${base}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await Promise.all(redisStorages.map((storage) => storage.dispose()));
  rmSync(directory, { recursive: true, force: true });
});

const rule: RateLimitRule = { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 };

describe("unstorage cache store", () => {
  for (const [name, makeStorage] of [
    ["memory", () => createStorage({ driver: memoryDriver() })],
    ["fs", () => createStorage({ driver: fsDriver({ base: directory }) })],
    ["redis", () => redisStorage("cache")],
  ] as const) {
    it(`stores, expires and deletes JSON values on the ${name} driver`, async () => {
      let now = 1_000_000;
      const store = unstorageStore({ storage: makeStorage(), now: () => now });
      await store.set("abc123", { token: "t", n: [1, 2] }, 5_000);
      expect(await store.get("abc123")).toEqual({ token: "t", n: [1, 2] });
      // Past its expiry an entry is gone, whether or not the driver honours unstorage's ttl.
      now += 5_000;
      expect(await store.get("abc123")).toBeUndefined();
      await store.set("def456", "v", 60_000);
      await store.delete("def456");
      expect(await store.get("def456")).toBeUndefined();
      await store.set("gone", "v", 0);
      expect(await store.get("gone")).toBeUndefined();
      expect(await store.get("never-set")).toBeUndefined();
    });
  }

  it("gives entries a real TTL on the Redis driver", async () => {
    const store = unstorageStore({ storage: redisStorage("ttl") });
    await store.set("k", 1, 30_000);
    const ttl = await redis.ttl(`${base}-ttl:tollgate:cache:k`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
  });
});

describe("unstorage rate limits", () => {
  it("are atomic on the Redis driver: 10 of 200 concurrent decisions, with no warning", async () => {
    const warnings: string[] = [];
    const store = unstorageStore({ storage: redisStorage("rl"), onWarning: (message) => warnings.push(message) });
    expect(store.rateLimitMode).toBe("atomic");
    const decisions = await Promise.all(Array.from({ length: 200 }, () => store.consume("user:abc", rule, 1)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(warnings).toEqual([]);
    // The decision ran as a script on the driver's client, under the driver's base.
    expect(await redis.keys(`${base}-rl:tollgate:rl:*`)).toEqual([`${base}-rl:tollgate:rl:{user:abc}:fw`]);
  });

  it("hold every algorithm's bound on the Redis driver", async () => {
    let run = 0;
    const onRedisDriver: StoreFactory = (clock) => unstorageStore({ storage: redisStorage(`p${++run}`), now: () => clock.now });
    await fc.assert(fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(onRedisDriver, scenario, "k")), { numRuns: 15 });
  });

  it("are best-effort on other drivers, exact within one process, and say so once", async () => {
    const warnings: string[] = [];
    const store = unstorageStore({ storage: createStorage({ driver: memoryDriver() }), onWarning: (message) => warnings.push(message) });
    expect(store.rateLimitMode).toBe("best-effort");
    const decisions = await Promise.all(Array.from({ length: 50 }, () => store.consume("user:abc", rule, 1)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    await store.consume("user:def", rule, 1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/driver "memory" cannot update a key atomically/);
  });

  it("hold every algorithm's bound within one process on a driver without atomic operations", async () => {
    const onMemoryDriver: StoreFactory = (clock) =>
      unstorageStore({ storage: createStorage({ driver: memoryDriver() }), now: () => clock.now, onWarning: () => {} });
    await fc.assert(fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(onMemoryDriver, scenario, "k")), { numRuns: 100 });
  });

  it("rejects bad options and rules with clear errors", async () => {
    expect(() => unstorageStore({ storage: undefined as never })).toThrow(/unstorage Storage/);
    expect(() => unstorageStore({ storage: createStorage(), prefix: "a b" })).toThrow(/prefix/);
    const store = unstorageStore({ storage: createStorage(), onWarning: () => {} });
    await expect(store.consume("k", { ...rule, windowMs: -1 }, 1)).rejects.toThrow(/windowMs/);
  });
});
