/**
 * Redis going away under traffic. This file starts a redis-server of its own on a spare loopback
 * port, so stopping it leaves the shared Redis that other test files use alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore, type RedisStore } from "../adapters/redis.ts";
import { createRateLimiter, StoreUnavailableError, type StoreFailurePolicy } from "../src/rate-limit/index.ts";
import { Redis } from "ioredis";
import { problemType } from "../src/errors.ts";
import { causeChain } from "../src/handler/error-answer.ts";
import { closeAll, gateway, tokenOf } from "./defects/support.ts";
import { sparePort } from "./support/ports.ts";
import { redisProcess } from "./support/redis-process.ts";

const STORE_TIMEOUT_MS = 250;
// A decision may take the timeout plus scheduling slack on a busy machine, never seconds more.
const HANG_BOUND_MS = STORE_TIMEOUT_MS + 1_500;

let port = 0;
const { start: startRedis, stop: stopRedis } = redisProcess(() => port);

beforeAll(async () => {
  port = await sparePort();
  await startRedis();
});

afterAll(async () => {
  await closeAll();
  await stopRedis();
});

interface Outcome {
  /** The phase a decision started and ended in, or "changing" when it spans two. */
  phase: Phase | "changing";
  kind: "allowed" | "refused" | "unavailable";
  degraded?: string;
  ms: number;
}

/** "stopping" and "starting" cover the moments Redis is between states, when either answer is right. */
type Phase = "up" | "stopping" | "down" | "starting" | "back";

/**
 * Sends one decision every few ms from a background loop while `during` runs, and records what each
 * one came to and how long it took.
 */
async function underTraffic(policy: StoreFailurePolicy, during: (mark: (phase: Phase) => void, outcomes: Outcome[]) => Promise<void>) {
  const store: RedisStore = redisStore({ url: `redis://127.0.0.1:${port}`, prefix: `outage-${policy}` });
  const limiter = createRateLimiter({
    store,
    onStoreError: policy,
    storeTimeoutMs: STORE_TIMEOUT_MS,
    // High enough that no refusal can come from the limit itself.
    limits: [{ name: "user", limit: 100_000, windowMs: 3_600_000 }],
  });
  const outcomes: Outcome[] = [];
  let phase: Phase = "up";
  let running = true;
  const traffic = (async () => {
    let n = 0;
    while (running) {
      const started = performance.now();
      const at = phase;
      const settled = (): Outcome["phase"] => (phase === at ? at : "changing");
      try {
        const check = await limiter.check({ user: { id: `user-${n++ % 7}` } });
        outcomes.push({ phase: settled(), kind: check.allowed ? "allowed" : "refused", ...(check.degraded ? { degraded: check.degraded } : {}), ms: performance.now() - started });
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        outcomes.push({ phase: settled(), kind: "unavailable", ms: performance.now() - started });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 100));
  await during((next) => (phase = next), outcomes);
  running = false;
  await traffic;
  await store.close();
  return outcomes;
}

/** Stops Redis, lets traffic meet the outage, starts it again, and waits until decisions are normal. */
async function outage(mark: (phase: Phase) => void, outcomes: Outcome[]) {
  mark("stopping");
  await stopRedis();
  mark("down");
  await new Promise((resolve) => setTimeout(resolve, 800));
  mark("starting");
  await startRedis();
  mark("back");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const recent = outcomes.slice(-5);
    if (recent.length === 5 && recent.every((o) => o.phase === "back" && o.kind === "allowed" && !o.degraded)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("Redis stopped during traffic", () => {
  for (const policy of ["closed", "open", "memory"] as const) {
    it(`holds the ${policy} policy, never hangs, never answers 429 for it, and recovers`, async () => {
      const outcomes = await underTraffic(policy, outage);
      const down = outcomes.filter((o) => o.phase === "down");
      const back = outcomes.filter((o) => o.phase === "back");
      expect(outcomes.filter((o) => o.phase === "up").every((o) => o.kind === "allowed" && !o.degraded)).toBe(true);
      expect(down.length).toBeGreaterThan(5);
      // The policy decided every request while Redis was away.
      if (policy === "closed") expect(down.every((o) => o.kind === "unavailable")).toBe(true);
      if (policy === "open") expect(down.every((o) => o.kind === "allowed" && o.degraded === "open")).toBe(true);
      if (policy === "memory") expect(down.every((o) => o.kind === "allowed" && o.degraded === "memory")).toBe(true);
      expect(outcomes.some((o) => o.kind === "refused")).toBe(false);
      expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(HANG_BOUND_MS);
      // Service came back by itself once Redis did.
      expect(back.slice(-5).every((o) => o.kind === "allowed" && !o.degraded)).toBe(true);
    });
  }

  it("falls back to a memory store that still limits while Redis is away", async () => {
    await stopRedis();
    try {
      const store = redisStore({ url: `redis://127.0.0.1:${port}`, prefix: "outage-limit" });
      const limiter = createRateLimiter({ store, onStoreError: "memory", storeTimeoutMs: STORE_TIMEOUT_MS, limits: [{ name: "user", limit: 3, windowMs: 3_600_000 }] });
      const checks = [];
      for (let i = 0; i < 5; i++) checks.push(await limiter.check({ user: { id: "carol" } }));
      expect(checks.map((c) => c.allowed)).toEqual([true, true, true, false, false]);
      expect(checks.every((c) => c.degraded === "memory")).toBe(true);
      await store.close();
    } finally {
      await startRedis();
    }
  });

  it("answers within the timeout when Redis accepts the connection but does not reply", async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${port}`, prefix: "outage-paused" });
    const limiter = createRateLimiter({ store, storeTimeoutMs: STORE_TIMEOUT_MS });
    expect((await limiter.check({ user: { id: "dave" } })).allowed).toBe(true);
    const admin = new Redis({ port, host: "127.0.0.1" });
    await admin.call("CLIENT", "PAUSE", "1500", "ALL");
    const started = performance.now();
    await expect(limiter.check({ user: { id: "dave" } })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - started).toBeLessThan(HANG_BOUND_MS);
    await admin.call("CLIENT", "UNPAUSE");
    admin.disconnect();
    await store.close();
  });

  it("bounds every command of a store it made from a URL, cache reads included", async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${port}`, prefix: "outage-cache", commandTimeoutMs: 200 });
    await store.set("k", 1, 60_000);
    const admin = new Redis({ port, host: "127.0.0.1" });
    await admin.call("CLIENT", "PAUSE", "1500", "ALL");
    const started = performance.now();
    await expect(store.get("k")).rejects.toThrow(/timed out/i);
    expect(performance.now() - started).toBeLessThan(HANG_BOUND_MS);
    await admin.call("CLIENT", "UNPAUSE");
    admin.disconnect();
    expect(await store.get("k")).toBe(1);
    await store.close();
  });
});

describe("the token cache while Redis stalls, under the memory policy", () => {
  it("answers a report on a token it cannot look up 503 with Retry-After, not 404, so the used token is not handed out again afterwards", async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${port}`, prefix: "outage-report", commandTimeoutMs: 200 });
    const server = await gateway({ store, onStoreError: "memory", rateLimit: false, usageRateLimit: false });
    const token = await tokenOf(await server.mint("erin"));
    expect(await tokenOf(await server.mint("erin"))).toBe(token);

    const admin = new Redis({ port, host: "127.0.0.1" });
    await admin.call("CLIENT", "PAUSE", "1500", "ALL");
    // The record is in Redis, which does not answer; the fallback in this process never saw it.
    const during = await server.report("erin", token, "started");
    expect(during.status).toBe(503);
    expect(during.headers.get("Retry-After")).toMatch(/^[1-9]\d*$/);
    expect(((await during.json()) as { type: string }).type).toBe(problemType("store_unavailable"));
    await admin.call("CLIENT", "UNPAUSE");
    admin.disconnect();

    // The client reports again once Redis answers, and the token is never handed out again.
    expect((await server.report("erin", token, "started")).status).toBe(204);
    expect(await tokenOf(await server.mint("erin"))).not.toBe(token);
    await store.close();
  });
});

describe("Redis refusing connections", () => {
  it("puts the connection's own error in the cause of each failed command, and so in the log", async () => {
    await stopRedis();
    const store = redisStore({ url: `redis://127.0.0.1:${port}`, prefix: "outage-cause", commandTimeoutMs: 200 });
    try {
      const failure = await store.get("k").then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(causeChain(failure)).toMatch(/ECONNREFUSED/);
      const server = await gateway({ store, rateLimit: false });
      expect((await server.mint("frank")).status).toBe(503);
      expect(server.logger.lines.join("\n")).toMatch(/token store failed.*ECONNREFUSED/);
    } finally {
      await store.close();
      await startRedis();
    }
  });
});
