/**
 * The Redis store against the real Redis on 127.0.0.1:6379. Each run uses its own key prefix and
 * removes its keys afterwards, so test files running side by side never see each other's counts.
 */
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../adapters/redis.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { retryArbitrary, runRetryAfter, runScenario, scenarioArbitrary, type StoreFactory } from "./rate-limit-harness.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `tollgate-test-${process.pid}-${Date.now().toString(36)}`;
let client: Redis;

beforeAll(async () => {
  client = new Redis(REDIS_URL, { lazyConnect: true });
  await client.connect();
});

afterAll(async () => {
  const keys = await client.keys(`${prefix}*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
});

let run = 0;
/** A store on the shared client with a clock the test controls, and keys no other run uses. */
const onRedis: StoreFactory = (clock) => redisStore({ client, prefix: `${prefix}-${++run}`, now: () => clock.now });

describe("redis rate-limit store, properties", () => {
  it("never admits more than an algorithm allows, under concurrent traffic and clock steps", async () => {
    await fc.assert(fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(onRedis, scenario, "k")), { numRuns: 60 });
  });

  it("admits a refused request once its Retry-After has passed", async () => {
    await fc.assert(fc.asyncProperty(retryArbitrary, (input) => runRetryAfter(onRedis, input, "k")), { numRuns: 40 });
  });
});

describe("redis rate-limit store", () => {
  const rule: RateLimitRule = { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 };

  it("admits exactly the limit out of many concurrent decisions on the server's clock", async () => {
    const store = redisStore({ client, prefix: `${prefix}-burst` });
    const decisions = await Promise.all(Array.from({ length: 200 }, () => store.consume("user:abc", rule, 1)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.retryAfter >= 1 && d.remaining === 0)).toBe(true);
  });

  it("runs each decision as one EVALSHA, and recovers by EVAL after the script cache is flushed", async () => {
    const store = redisStore({ client, prefix: `${prefix}-noscript` });
    const watcher = new Redis(REDIS_URL);
    const sent: string[] = [];
    const monitor = await watcher.monitor();
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args[1]?.includes(`${prefix}-noscript`) || args[3]?.includes(`${prefix}-noscript`)) sent.push(String(args[0]).toLowerCase());
    });
    await store.consume("k", rule, 1);
    await client.script("FLUSH");
    const after = await store.consume("k", rule, 1);
    await store.consume("k", rule, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    monitor.disconnect();
    watcher.disconnect();
    expect(after.remaining).toBe(8);
    // Top-level commands only (calls made inside a script are reported with a "lua" source and
    // the script's own keys; a sorted-set or hash command from the client would show up here).
    expect(sent.filter((c) => c === "evalsha" || c === "eval")).toEqual(["evalsha", "evalsha", "eval", "evalsha"]);
  });

  it("names a decision's keys under one hash tag (redis-cluster.test.ts runs them on a real cluster)", async () => {
    const store = redisStore({ client, prefix: `${prefix}-slots` });
    await store.consume("user:0123abcd", { algorithm: "sliding-window", limit: 3, windowMs: 60_000 }, 2);
    const keys = (await client.keys(`${prefix}-slots*`)).sort();
    expect(keys).toEqual([`${prefix}-slots:rl:{user:0123abcd}:sw`, `${prefix}-slots:rl:{user:0123abcd}:sw:seq`]);
  });

  it("rejects a bad rule with a clear error before touching Redis", async () => {
    const store = redisStore({ client, prefix: `${prefix}-bad` });
    await expect(store.consume("k", { algorithm: "leaky" as never, limit: 1, windowMs: 1000 }, 1)).rejects.toThrow(/unknown algorithm/);
    await expect(store.consume("k", { ...rule, limit: 0 }, 1)).rejects.toThrow(/limit must be a positive integer/);
    await expect(store.consume("k", rule, 11)).rejects.toThrow(/cost must be an integer from 1 to the limit/);
    expect(await client.keys(`${prefix}-bad*`)).toEqual([]);
  });
});

describe("redis cache store", () => {
  it("stores JSON with a real TTL and deletes", async () => {
    const store = redisStore({ client, prefix: `${prefix}-cache` });
    await store.set("a", { token: "t", n: [1, 2] }, 60_000);
    expect(await store.get("a")).toEqual({ token: "t", n: [1, 2] });
    const ttl = await client.pttl(`${prefix}-cache:cache:a`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.delete("a");
    expect(await store.get("a")).toBeUndefined();
    await store.delete("never-there");
  });

  it("lets an entry expire on Redis's own clock", async () => {
    const store = redisStore({ client, prefix: `${prefix}-cache` });
    await store.set("short", "v", 20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await store.get("short")).toBeUndefined();
    await store.set("gone", "v", 0);
    expect(await store.get("gone")).toBeUndefined();
  });

  it("makes its own client from a URL, and closes it", async () => {
    const store = redisStore({ url: REDIS_URL, prefix: `${prefix}-url` });
    await store.set("x", 1, 10_000);
    expect(await store.get("x")).toBe(1);
    await store.close();
  });

  it("refuses options it cannot use", () => {
    expect(() => redisStore({})).toThrow(/client or a url/);
    expect(() => redisStore({ url: "http://x" })).toThrow(/redis:\/\//);
    expect(() => redisStore({ client, prefix: "a{b}" })).toThrow(/prefix/);
  });
});
