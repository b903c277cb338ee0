/**
 * The Redis store against the real Redis on 127.0.0.1:6379, in what the store contract
 * (test/stores/) does not cover: the server's clock, scripts, key layout and options. Each run uses
 * its own key prefix and removes its keys afterwards, so test files running side by side never see
 * each other's counts.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisRateLimitStore, redisStore } from "../adapters/redis.ts";
import { OptionError } from "../src/errors.ts";
import { getDependent } from "../src/store/dependent.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { closeAll, gateway, tokenOf } from "./defects/support.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `tollgate-test-${process.pid}-${Date.now().toString(36)}`;
let client: Redis;

beforeAll(async () => {
  client = new Redis(REDIS_URL, { lazyConnect: true });
  await client.connect();
});

afterAll(async () => {
  await closeAll();
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

  it("refuses options it cannot use with an OptionError naming the option", () => {
    const refusal = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return error;
      }
      throw new Error("no error");
    };
    for (const [make, message] of [
      [() => redisStore({}), /^redisStore: pass a client or a url$/],
      [() => redisStore({ client, url: REDIS_URL }), /not both/],
      [() => redisStore({ url: "http://x" }), /^redisStore: url: must start with redis:\/\//],
      [() => redisStore({ client, commandTimeoutMs: 0 }), /^redisStore: commandTimeoutMs: /],
      ...["a{b}", "a b", "", "x".repeat(65), 42].map((bad) => [() => redisStore({ client, prefix: bad as never }), /^redisStore: prefix: must be 1 to 64/] as const),
      // The rate-limit store on its own keeps the same prefix rule.
      [() => redisRateLimitStore({ client, prefix: "a{b}" }), /^redisRateLimitStore: prefix: must be 1 to 64/],
    ] as const) {
      const error = refusal(make);
      expect(error).toBeInstanceOf(OptionError);
      expect((error as OptionError).code).toBe("invalid_option");
      expect((error as Error).message).toMatch(message);
    }
    expect(() => redisStore({ client, prefix: "app.v2:tenant_1-x" })).not.toThrow();
    expect(() => redisRateLimitStore({ client })).not.toThrow();
  });
});

describe("redis cache store under eviction", () => {
  it("mints afresh when a token's record is gone and its reuse entry is not, as an eviction policy can leave them", async () => {
    const server = await gateway({ store: redisStore({ client, prefix: `${prefix}-evicted` }), rateLimit: false, usageRateLimit: false });
    const first = await tokenOf(await server.mint("alice"));
    expect(await tokenOf(await server.mint("alice"))).toBe(first);
    const records = await client.keys(`${prefix}-evicted:cache:token:*`);
    expect(records).toHaveLength(1);
    // What allkeys-lru (or volatile-ttl, which samples) may do: the record goes, the reuse entry stays.
    await client.del(...records);
    expect(await client.keys(`${prefix}-evicted:cache:reuse:*`)).toHaveLength(1);
    const next = await tokenOf(await server.mint("alice"));
    expect(next).not.toBe(first);
    // The new token has a record of its own, so its owner's reports are known.
    expect((await server.report("alice", next, "started")).status).toBe(204);
  });

  it("reads a reuse entry and checks its record in one script, which survives a flushed script cache and the client's keyPrefix", async () => {
    const store = redisStore({ client, prefix: `${prefix}-dependent` });
    const watcher = new Redis(REDIS_URL);
    const sent: string[] = [];
    const monitor = await watcher.monitor();
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args.some((arg) => arg.includes(`${prefix}-dependent`))) sent.push(String(args[0]).toLowerCase());
    });
    await store.set("token:t1", { owner: "o" }, 60_000);
    await store.set("reuse:r1", { token: "t1", dependsOn: "token:t1" }, 60_000);
    sent.length = 0;
    expect(await store.getDependent!("reuse:r1")).toEqual({ token: "t1", dependsOn: "token:t1" });
    await client.script("FLUSH");
    expect(await store.getDependent!("reuse:r1")).toEqual({ token: "t1", dependsOn: "token:t1" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    monitor.disconnect();
    watcher.disconnect();
    // The client sends one script call per read (EVAL once after the flush); the GET and EXISTS it
    // runs are Redis's own, inside the script.
    expect(sent.filter((c) => c !== "get" && c !== "exists")).toEqual(["evalsha", "evalsha", "eval"]);

    const prefixed = new Redis(REDIS_URL, { keyPrefix: `${prefix}-kp:` });
    try {
      const behindKeyPrefix = redisStore({ client: prefixed, prefix: "app" });
      await behindKeyPrefix.set("token:t2", { owner: "o" }, 60_000);
      await behindKeyPrefix.set("reuse:r2", { token: "t2", dependsOn: "token:t2" }, 60_000);
      expect(await behindKeyPrefix.getDependent!("reuse:r2")).toEqual({ token: "t2", dependsOn: "token:t2" });
      await behindKeyPrefix.delete("token:t2");
      expect(await getDependent(behindKeyPrefix, "reuse:r2")).toBeUndefined();
      expect(await client.keys(`${prefix}-kp:*`)).toEqual([]);
    } finally {
      prefixed.disconnect();
    }
  });

  it("answers a fresh store's first rate-limit decision and cache read, started together on an auto-pipelining client", async () => {
    const pipelining = new Redis(REDIS_URL, { enableAutoPipelining: true });
    try {
      const store = redisStore({ client: pipelining, prefix: `${prefix}-first` });
      const [decision, cached] = await Promise.all([store.consume("user:first", { algorithm: "fixed-window", limit: 5, windowMs: 60_000 }, 1), store.getDependent!("reuse:none")]);
      expect(decision.allowed).toBe(true);
      expect(cached).toBeUndefined();
    } finally {
      pipelining.disconnect();
    }
  });
});