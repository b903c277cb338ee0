/**
 * The Redis store against the real Redis on 127.0.0.1:6379, in what the store contract
 * (test/stores/) does not cover: the server's clock, scripts, key layout and options. Each run uses
 * its own key prefix and removes its keys afterwards, so test files running side by side never see
 * each other's counts.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../adapters/redis.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

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

describe("redis rate-limit store", () => {
  const rule: RateLimitRule = { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 };

  it("admits exactly the limit out of many concurrent decisions on the server's clock", async () => {
    await clearOfWindowEdge(rule.windowMs, 2_000);
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
  it("keeps an entry under the prefix, once, with a real TTL (PX)", async () => {
    const store = redisStore({ client, prefix: `${prefix}-cache` });
    await store.set("reuse:0123abcd", { token: "t" }, 60_000);
    expect(await client.keys(`${prefix}-cache*`)).toEqual([`${prefix}-cache:cache:reuse:0123abcd`]);
    const ttl = await client.pttl(`${prefix}-cache:cache:reuse:0123abcd`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
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
    for (const bad of ["a{b}", "a b", "", "x".repeat(65), 42]) expect(() => redisStore({ client, prefix: bad as never })).toThrow(/redisStore: prefix must be 1 to 64/);
    expect(() => redisStore({ client, prefix: "app.v2:tenant_1-x" })).not.toThrow();
  });
});
