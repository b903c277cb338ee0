import { describe, expect, it } from "vitest";
import { createRateLimiter, memoryRateLimitStore, parseRateLimit, StoreUnavailableError } from "../src/rate-limit/index.ts";
import { rateLimitHeaders } from "../src/rate-limit/headers.ts";
import type { RateLimitStore } from "../src/rate-limit/types.ts";

const HOUR = 3_600_000;
const alice = { user: { id: "alice@example.com" } };
const bob = { user: { id: "bob@example.com" } };

/** A memory store that also remembers the keys it was asked about. */
function recordingStore(now: () => number) {
  const keys: string[] = [];
  const inner = memoryRateLimitStore({ now });
  const store: RateLimitStore = {
    consume(key, rule, cost) {
      keys.push(key);
      return inner.consume(key, rule, cost);
    },
  };
  return { store, keys };
}

describe("createRateLimiter", () => {
  it("defaults to 10 an hour per user, with draft-8 headers on every answer", async () => {
    let now = Date.UTC(2026, 0, 1, 10, 40);
    const limiter = createRateLimiter({ store: memoryRateLimitStore({ now: () => now }), now: () => now });
    for (let i = 1; i <= 10; i++) {
      const check = await limiter.check(alice);
      expect(check.allowed).toBe(true);
      expect(check.headers.get("RateLimit-Policy")).toBe('"user";q=10;w=3600');
      expect(check.headers.get("RateLimit")).toBe(`"user";r=${10 - i};t=1200`);
      expect(check.headers.get("Retry-After")).toBeNull();
    }
    const refused = await limiter.check(alice);
    expect(refused).toMatchObject({ allowed: false, refusedBy: "user" });
    expect(refused.decisions).toEqual([{ name: "user", allowed: false, limit: 10, remaining: 0, resetAt: Date.UTC(2026, 0, 1, 11), retryAfter: 1200 }]);
    expect(refused.headers.get("Retry-After")).toBe("1200");
    expect(refused.headers.get("RateLimit")).toBe('"user";r=0;t=1200');
    // Another user has a count of their own, and the next window starts afresh.
    expect((await limiter.check(bob)).allowed).toBe(true);
    now = Date.UTC(2026, 0, 1, 11);
    expect((await limiter.check(alice)).allowed).toBe(true);
  });

  it("checks named limits in order and stops at the first refusal", async () => {
    const now = () => 1_000_000;
    const { store, keys } = recordingStore(now);
    const limiter = createRateLimiter({
      store,
      now,
      limits: [
        { name: "user", limit: 2, windowMs: HOUR },
        { name: "global", algorithm: "token-bucket", limit: 3, windowMs: 60_000, key: () => "org" },
      ],
    });
    expect((await limiter.check(alice)).allowed).toBe(true);
    const second = await limiter.check(alice);
    expect(second.headers.get("RateLimit-Policy")).toBe('"user";q=2;w=3600, "global";q=3;w=60');
    expect(second.headers.get("RateLimit")).toBe('"user";r=0;t=2600, "global";r=1;t=40');
    // Alice is over her own limit: refused there, and the global quota is not touched.
    const third = await limiter.check(alice);
    expect(third).toMatchObject({ allowed: false, refusedBy: "user" });
    expect(third.decisions.map((d) => d.name)).toEqual(["user"]);
    // The fields speak of the limits that decided, and of no other.
    expect(third.headers.get("RateLimit-Policy")).toBe('"user";q=2;w=3600');
    // Bob takes the last global unit, then the global quota refuses him.
    expect((await limiter.check(bob)).allowed).toBe(true);
    const global = await limiter.check(bob);
    expect(global).toMatchObject({ allowed: false, refusedBy: "global" });
    expect(global.headers.get("Retry-After")).toBe("20");
    expect(keys.filter((key) => key.startsWith("global:"))).toHaveLength(4);
  });

  it("gives back what the earlier limits took when a later one refuses, so a refused request costs nothing", async () => {
    let now = 1_000_000;
    const limiter = createRateLimiter({
      store: memoryRateLimitStore({ now: () => now }),
      now: () => now,
      limits: [
        { name: "user", limit: 2, windowMs: HOUR },
        { name: "global", algorithm: "sliding-window", limit: 1, windowMs: 60_000, key: () => "org" },
      ],
    });
    expect((await limiter.check(alice)).allowed).toBe(true);
    // Bob is refused by the global quota three times; none of them counts against his own two.
    for (let i = 0; i < 3; i++) expect(await limiter.check(bob)).toMatchObject({ allowed: false, refusedBy: "global" });
    now += 60_000;
    expect((await limiter.check(bob)).allowed).toBe(true);
    now += 60_000;
    expect((await limiter.check(bob)).allowed).toBe(true);
    now += 60_000;
    expect(await limiter.check(bob)).toMatchObject({ allowed: false, refusedBy: "user" });
  });

  it("hashes keys, so a store never sees a raw user id", async () => {
    const { store, keys } = recordingStore(Date.now);
    const limiter = createRateLimiter({ store });
    await limiter.check(alice);
    await limiter.check({ user: { id: "名前 😀" } });
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(key).toMatch(/^user:[0-9a-f]{32}$/);
    expect(keys.join()).not.toContain("alice");
  });

  it("exempts a request whose key is null, and prices requests by cost", async () => {
    const limiter = createRateLimiter<{ user: { id: string }; personaType?: string }>({
      limits: [
        {
          name: "user",
          limit: 5,
          windowMs: HOUR,
          key: (ctx) => (ctx.user.id === "admin" ? null : ctx.user.id),
          cost: (ctx) => (ctx.personaType === "long" ? 3 : 1),
        },
      ],
    });
    for (let i = 0; i < 20; i++) expect((await limiter.check({ user: { id: "admin" } })).allowed).toBe(true);
    expect((await limiter.check({ user: { id: "admin" } })).headers.has("RateLimit")).toBe(false);
    expect((await limiter.check({ ...alice, personaType: "long" })).decisions[0]!.remaining).toBe(2);
    expect((await limiter.check({ ...alice, personaType: "long" })).allowed).toBe(false);
    expect((await limiter.check(alice)).decisions[0]!.remaining).toBe(1);
  });

  it("refuses configurations it cannot honour, with errors that name the problem", () => {
    expect(() => createRateLimiter({ limits: [{ name: "bad name", limit: 1, windowMs: 1000 }] })).toThrow(/name must be/);
    expect(() => createRateLimiter({ limits: [{ name: "a", limit: 1, windowMs: 1000 }, { name: "a", limit: 2, windowMs: 1000 }] })).toThrow(/share a name/);
    expect(() => createRateLimiter({ limits: [{ name: "a", algorithm: "leaky" as never, limit: 1, windowMs: 1000 }] })).toThrow(/unknown algorithm/);
    expect(() => createRateLimiter({ limits: [{ name: "a", limit: 0, windowMs: 1000 }] })).toThrow(/"a": limit must be a positive integer/);
    expect(() => createRateLimiter({ limits: [{ name: "a", limit: 1.5, windowMs: 1000 }] })).toThrow(/limit must be a positive integer/);
    expect(() => createRateLimiter({ limits: [{ name: "a", limit: 1, windowMs: Number.NaN }] })).toThrow(/windowMs/);
    expect(() => createRateLimiter({ limits: [{ name: "a", limit: 2, windowMs: 1000, cost: 3 }] })).toThrow(/cost/);
    expect(() => createRateLimiter({ onStoreError: "retry" as never })).toThrow(/onStoreError/);
    expect(() => createRateLimiter({ storeTimeoutMs: 0 })).toThrow(/storeTimeoutMs/);
  });

  it("says what is missing when the context has no user for the default key", async () => {
    const limiter = createRateLimiter({ onStoreError: "open" });
    await expect(limiter.check({} as never)).rejects.toThrow(/"user": the context has no user id/);
    await expect(limiter.check({ user: { id: "" } })).rejects.toThrow(TypeError);
  });

  it("rejects a cost or key function's bad answer as a programming error, not a store failure", async () => {
    const limiter = createRateLimiter({ onStoreError: "open", limits: [{ name: "u", limit: 2, windowMs: 1000, cost: () => 5 }] });
    await expect(limiter.check(alice)).rejects.toThrow(TypeError);
    const keyed = createRateLimiter({ onStoreError: "open", limits: [{ name: "u", limit: 2, windowMs: 1000, key: () => 42 as never }] });
    await expect(keyed.check(alice)).rejects.toThrow(/key\(\) must return a string/);
  });
});

describe("store failure policies", () => {
  const failing: RateLimitStore = { consume: () => Promise.reject(new Error("ECONNREFUSED 127.0.0.1:6390")) };
  const hanging: RateLimitStore = { consume: () => new Promise(() => {}) };

  it("fails closed by default: a 503 error that is not a refusal", async () => {
    const failures: string[] = [];
    const limiter = createRateLimiter({ store: failing, onStoreFailure: (_error, name) => failures.push(name) });
    const error = await limiter.check(alice).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ code: "store_unavailable", status: 503 });
    expect(failures).toEqual(["user"]);
  });

  it("treats a store that throws instead of rejecting as a failed store", async () => {
    const throwing: RateLimitStore = {
      consume: () => {
        throw new Error("client not connected");
      },
    };
    const failures: string[] = [];
    const closed = createRateLimiter({ store: throwing, onStoreFailure: (_error, name) => failures.push(name) });
    await expect(closed.check(alice)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(failures).toEqual(["user"]);
    const open = createRateLimiter({ store: throwing, onStoreError: "open" });
    expect(await open.check(alice)).toMatchObject({ allowed: true, degraded: "open", decisions: [] });
  });

  it("gives up on a store that does not answer within storeTimeoutMs", async () => {
    const limiter = createRateLimiter({ store: hanging, storeTimeoutMs: 30 });
    await expect(limiter.check(alice)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("fails open: lets requests through without rate-limit headers", async () => {
    const limiter = createRateLimiter({ store: hanging, storeTimeoutMs: 20, onStoreError: "open" });
    for (let i = 0; i < 12; i++) {
      const check = await limiter.check(alice);
      expect(check).toMatchObject({ allowed: true, degraded: "open", decisions: [] });
    }
  });

  it("falls back to memory: still limits, per process, while the store is down", async () => {
    let down = true;
    const shared = memoryRateLimitStore();
    const flaky: RateLimitStore = { consume: (...args) => (down ? Promise.reject(new Error("down")) : shared.consume(...args)) };
    const limiter = createRateLimiter({ store: flaky, onStoreError: "memory", limits: [{ name: "user", limit: 3, windowMs: HOUR }] });
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await limiter.check(alice));
    expect(during.map((c) => c.allowed)).toEqual([true, true, true, false, false]);
    expect(during.every((c) => c.degraded === "memory")).toBe(true);
    down = false;
    const after = await limiter.check(alice);
    expect(after.degraded).toBeUndefined();
    expect(after.decisions[0]!.remaining).toBe(2);
  });
});

describe("memory rate-limit store", () => {
  const rule = { algorithm: "fixed-window" as const, limit: 2, windowMs: 1000 };

  it("holds no more keys than its bound, forgetting expired ones first", async () => {
    let now = 0;
    const store = memoryRateLimitStore({ maxKeys: 10, now: () => now });
    for (let i = 0; i < 10; i++) await store.consume(`old${i}`, rule, 1);
    now = 1000;
    for (let i = 0; i < 25; i++) await store.consume(`new${i}`, rule, 1);
    expect(store.size).toBeLessThanOrEqual(10);
    // The most recent keys are still counted.
    await store.consume("new24", rule, 1);
    expect((await store.consume("new24", rule, 1)).allowed).toBe(false);
  });

  it("sweeps expired keys as time passes, with no timer", async () => {
    let now = 0;
    const store = memoryRateLimitStore({ sweepIntervalMs: 5_000, now: () => now });
    for (let i = 0; i < 50; i++) await store.consume(`k${i}`, rule, 1);
    expect(store.size).toBe(50);
    now = 6_000;
    await store.consume("fresh", rule, 1);
    expect(store.size).toBe(1);
  });

  it("does not reset a count when the clock steps back", async () => {
    let now = 10_500;
    const store = memoryRateLimitStore({ now: () => now });
    await store.consume("k", rule, 2);
    now = 9_900;
    expect((await store.consume("k", rule, 1)).allowed).toBe(false);
  });
});

describe("headers and parsing", () => {
  it("escapes policy names as structured-field strings", () => {
    const headers = rateLimitHeaders([{ name: 'a"b\\c', windowMs: 500, allowed: true, limit: 1, remaining: 0, resetAt: 1_400, retryAfter: 0 }], 1_000);
    expect(headers.get("RateLimit-Policy")).toBe('"a\\"b\\\\c";q=1;w=1');
    expect(headers.get("RateLimit")).toBe('"a\\"b\\\\c";r=0;t=1');
  });

  it("parses TOLLGATE_RATE_LIMIT's short form", () => {
    expect(parseRateLimit("10/1h")).toEqual({ limit: 10, windowMs: HOUR });
    expect(parseRateLimit("10/h")).toEqual({ limit: 10, windowMs: HOUR });
    expect(parseRateLimit(" 100 / 30m ")).toEqual({ limit: 100, windowMs: 1_800_000 });
    expect(parseRateLimit("5/10s")).toEqual({ limit: 5, windowMs: 10_000 });
    expect(parseRateLimit("1000/1d")).toEqual({ limit: 1000, windowMs: 86_400_000 });
    expect(parseRateLimit("3/250ms")).toEqual({ limit: 3, windowMs: 250 });
    for (const bad of ["", "10", "10/", "10/1w", "0/1h", "-1/1h", "ten/1h", "10/0h", "1.5/1h"]) {
      expect(() => parseRateLimit(bad), bad).toThrow(/rate limit/);
    }
  });
});
