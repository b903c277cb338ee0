/**
 * The unstorage store in what the store contract (test/stores/) does not cover: the fs driver, the
 * key layout on Redis, the warning on drivers without atomic operations, and options.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import lruCacheDriver from "unstorage/drivers/lru-cache";
import memoryDriver from "unstorage/drivers/memory";
import redisDriver from "unstorage/drivers/redis";
import { afterAll, describe, expect, it } from "vitest";
import { unstorageStore } from "../adapters/unstorage.ts";
import { OptionError } from "../src/errors.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { closeAll, gateway, tokenOf } from "./defects/support.ts";

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
  await closeAll();
  const keys = await redis.keys(`${base}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await Promise.all(redisStorages.map((storage) => storage.dispose()));
  rmSync(directory, { recursive: true, force: true });
});

const rule: RateLimitRule = { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 };

describe("unstorage cache store", () => {
  it("stores, expires and deletes JSON values on the fs driver", async () => {
    let now = 1_000_000;
    const store = unstorageStore({ storage: createStorage({ driver: fsDriver({ base: directory }) }), now: () => now });
    await store.set("reuse:abc123", { token: "t", n: [1, 2] }, 5_000);
    expect(await store.get("reuse:abc123")).toEqual({ token: "t", n: [1, 2] });
    // Past its expiry an entry is gone, though the fs driver ignores unstorage's ttl.
    now += 5_000;
    expect(await store.get("reuse:abc123")).toBeUndefined();
    await store.set("token:def456", "v", 60_000);
    await store.delete("token:def456");
    expect(await store.get("token:def456")).toBeUndefined();
    expect(await store.get("token:never-set")).toBeUndefined();
  });

  it("keys entries under the prefix once, with a real TTL on the Redis driver", async () => {
    const store = unstorageStore({ storage: redisStorage("ttl") });
    await store.set("reuse:0123abcd", 1, 30_000);
    expect(await redis.keys(`${base}-ttl*`)).toEqual([`${base}-ttl:tollgate:cache:reuse:0123abcd`]);
    const ttl = await redis.ttl(`${base}-ttl:tollgate:cache:reuse:0123abcd`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
  });

  it("encodes only the key segments unstorage would rewrite", async () => {
    const store = unstorageStore({ storage: redisStorage("enc") });
    for (const key of ["token:ab.c-d_e", "a/b", "q?x", ":lead", ".."]) await store.set(key, key, 30_000);
    expect((await redis.keys(`${base}-enc*`)).sort()).toEqual(
      ["token:ab.c-d_e", "a%2Fb", "q%3Fx", "%:lead", "%2e%2e"].map((key) => `${base}-enc:tollgate:cache:${key}`).sort(),
    );
  });

  it("reads an entry something else wrote there as absent", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const store = unstorageStore({ storage });
    for (const [i, junk] of [42, "text", { value: 1 }, { expiresAt: Date.now() + 60_000 }, { value: 1, expiresAt: "never" }, null].entries()) {
      await storage.setItem(`tollgate:cache:junk${i}`, junk as never);
      expect(await store.get(`junk${i}`)).toBeUndefined();
    }
  });
});

describe("unstorage on an evicting driver", () => {
  it("never hands out a used token again when lru-cache drops its record and keeps its reuse entry", async () => {
    // Room for 40 entries; a user's reloads keep their reuse entry recently used while newer users
    // push their token's record, never read, out of the cache.
    const store = unstorageStore({ storage: createStorage({ driver: lruCacheDriver({ max: 40 }) }) });
    const server = await gateway({ store, rateLimit: false, usageRateLimit: false });
    await tokenOf(await server.mint("first"));
    for (let i = 0; i < 60; i++) {
      await tokenOf(await server.mint(`newer-${i}`));
      await tokenOf(await server.mint("first"));
    }
    const current = await tokenOf(await server.mint("first"));
    // The store may have forgotten the token (404) or not (204); either way it is used now.
    expect([204, 404]).toContain((await server.report("first", current, "started")).status);
    expect(await tokenOf(await server.mint("first"))).not.toBe(current);
  });
});

describe("unstorage rate limits", () => {
  it("run as the Redis scripts on the Redis driver, under the driver's base, with no warning", async () => {
    const warnings: string[] = [];
    const store = unstorageStore({ storage: redisStorage("rl"), onWarning: (message) => warnings.push(message) });
    expect(store.rateLimitMode).toBe("atomic");
    const decisions = await Promise.all(Array.from({ length: 200 }, () => store.consume("user:abc", rule, 1)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(warnings).toEqual([]);
    expect(await redis.keys(`${base}-rl:tollgate:rl:*`)).toEqual([`${base}-rl:tollgate:rl:{user:abc}:fw`]);
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

  it("rejects bad options with an OptionError naming the option", () => {
    expect(() => unstorageStore({ storage: undefined as never })).toThrow(OptionError);
    expect(() => unstorageStore({ storage: undefined as never })).toThrow(/^unstorageStore: storage: must be an unstorage Storage/);
    for (const bad of ["a b", "a/b", "", "x".repeat(65), 42]) {
      expect(() => unstorageStore({ storage: createStorage(), prefix: bad as never })).toThrow(OptionError);
      expect(() => unstorageStore({ storage: createStorage(), prefix: bad as never })).toThrow(/^unstorageStore: prefix: must be 1 to 64/);
    }
    // On the Redis driver the driver's base starts tollgate's keys, so it keeps the prefix rule too.
    const spaced = createStorage({ driver: redisDriver({ url: REDIS_URL, base: "my app", lazyConnect: true }) });
    redisStorages.push(spaced);
    expect(() => unstorageStore({ storage: spaced })).toThrow(/^unstorageStore: the Redis driver's base and prefix together: must be 1 to 64/);
  });
});
