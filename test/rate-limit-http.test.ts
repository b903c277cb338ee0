import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { redisStore } from "../adapters/redis.ts";
import { createTokenHandler, problemType, type LifecycleEvent, type TokenHandlerOptions } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { PERSONAS, asUser, authenticate } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

// The rate-limit step of the token route, over real HTTP, with the Anam emulator upstream.

let upstream: Upstream;
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true });
const prefix = `tollgate-http-${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => {
  upstream = await startUpstream();
  await redis.connect();
});
afterAll(async () => {
  await closeAll();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function serve(name: string, options: Partial<TokenHandlerOptions<{ id: string; canAccessPersonas: boolean }>> = {}) {
  const events: LifecycleEvent[] = [];
  const logger = capturingLogger();
  const handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
    authenticate,
    personas: PERSONAS,
    logger,
    onEvent: (event) => events.push(event),
    ...options,
  });
  const url = (await listen(name, handler)).url + "/api/session-token";
  return { url, events, logger };
}

describe("rate limits on the token route", () => {
  // The limits here are a minute or an hour long; an hour's edge is a minute's edge too.
  beforeEach(() => clearOfWindowEdge(60_000));

  it("allows 10 an hour per user by default, then answers 429 problem+json with the limit's headers", async () => {
    const { url, events } = await serve("limited");
    const mintsBefore = upstream.emulator.stats.mintRequests;
    for (let i = 1; i <= 10; i++) {
      const response = await fetch(url, asUser("alice", { personaType: i % 2 ? "support" : "sales" }));
      expect(response.status).toBe(200);
      // Only a refusal carries the fields unless the app asks for them on every answer (below).
      expect(response.headers.has("RateLimit-Policy")).toBe(false);
      expect(response.headers.has("RateLimit")).toBe(false);
    }
    const refused = await fetch(url, asUser("alice"));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Content-Type")).toBe("application/problem+json");
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.headers.get("RateLimit")).toBe(`"user";r=0;t=${retryAfter}`);
    expect(refused.headers.get("RateLimit-Policy")).toBe('"user";q=10;w=3600');
    const body = (await refused.json()) as { type: string; status: number; detail: string };
    expect(body).toMatchObject({ type: problemType("rate_limited"), status: 429 });
    expect(body.detail).toContain('"user"');
    // The refused request never reached the provider; another user still may.
    expect(upstream.emulator.stats.mintRequests - mintsBefore).toBeLessThanOrEqual(2);
    expect((await fetch(url, asUser("bob"))).status).toBe(200);

    const limited = events.filter((event) => event.name === "rate_limited");
    expect(limited).toHaveLength(1);
    expect(limited[0]).toMatchObject({ status: 429, limit: "user", profile: "support", provider: "anam" });
    expect(JSON.stringify(limited[0])).not.toContain("alice");
    expect(events.some((event) => event.name === "failed")).toBe(false);
  });

  it("puts the fields on every 200 as well when rateLimitFieldsOnSuccess is set", async () => {
    const { url } = await serve("fields-on-success", { rateLimitFieldsOnSuccess: true, rateLimit: { limits: [{ name: "user", limit: 3, windowMs: 60_000 }] } });
    for (let i = 1; i <= 3; i++) {
      const response = await fetch(url, asUser("alice"));
      expect(response.status).toBe(200);
      expect(response.headers.get("RateLimit-Policy")).toBe('"user";q=3;w=60');
      expect(response.headers.get("RateLimit")).toMatch(new RegExp(`^"user";r=${3 - i};t=\\d+$`));
    }
    const refused = await fetch(url, asUser("alice"));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("RateLimit")).toMatch(/^"user";r=0;t=\d+$/);
  });

  it("does not count requests refused earlier in the pipeline", async () => {
    const { url } = await serve("early", { rateLimit: { limits: [{ name: "user", limit: 1, windowMs: 60_000 }] } });
    expect((await fetch(url, asUser("alice", { personaType: "nobody" }))).status).toBe(400);
    expect((await fetch(url, { ...asUser("alice"), headers: { "Content-Type": "application/json" } })).status).toBe(401);
    expect((await fetch(url, asUser("alice"))).status).toBe(200);
    expect((await fetch(url, asUser("alice"))).status).toBe(429);
  });

  it("applies several named limits, a global quota among them", async () => {
    const { url } = await serve("global", {
      rateLimit: {
        limits: [
          { name: "user", limit: 2, windowMs: 60_000 },
          { name: "org", algorithm: "sliding-window", limit: 3, windowMs: 60_000, key: () => "org" },
        ],
      },
    });
    const responses = [];
    for (const name of ["alice", "alice", "alice", "bob", "bob"] as const) responses.push(await fetch(url, asUser(name)));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 429, 200, 429]);
    // Alice's third is refused by her own limit, before the org quota is touched.
    expect(responses[2]!.headers.get("RateLimit-Policy")).toBe('"user";q=2;w=60');
    // Bob's second fits his own limit but not the org's, which Alice and Bob have used up.
    const refusedByOrg = responses[4]!;
    expect(refusedByOrg.headers.get("RateLimit-Policy")).toBe('"user";q=2;w=60, "org";q=3;w=60');
    expect(refusedByOrg.headers.get("RateLimit")).toMatch(/^"user";r=0;t=\d+, "org";r=0;t=\d+$/);
    expect(((await refusedByOrg.json()) as { detail: string }).detail).toContain('"org"');
  });

  it("counts on the handler's store when that store holds rate limits (Redis here)", async () => {
    const store = redisStore({ client: redis, prefix: `${prefix}-shared` });
    const first = await serve("redis-a", { store, rateLimit: { limits: [{ name: "user", limit: 3, windowMs: 60_000 }] } });
    const second = await serve("redis-b", { store, rateLimit: { limits: [{ name: "user", limit: 3, windowMs: 60_000 }] } });
    const statuses = [];
    for (const url of [first.url, second.url, first.url, second.url]) statuses.push((await fetch(url, asUser("alice"))).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const keys = await redis.keys(`${prefix}-shared:rl:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^[^:]+:rl:\{user:[0-9a-f]{32}\}:fw$/);
  });

  it("answers 503 store_unavailable, not 429, when the store is down and the policy is closed", async () => {
    // Nothing listens on port 1: the client's connection is refused, as with a Redis that is down.
    const store = redisStore({ url: "redis://127.0.0.1:1", prefix });
    const { url, logger, events } = await serve("store-down", { rateLimit: { store, storeTimeoutMs: 500 } });
    for (let i = 0; i < 3; i++) {
      const response = await fetch(url, asUser("alice"));
      expect(response.status).toBe(503);
      expect(((await response.json()) as { type: string }).type).toBe(problemType("store_unavailable"));
      expect(response.headers.get("RateLimit")).toBeNull();
    }
    expect(events.some((event) => event.name === "rate_limited")).toBe(false);
    expect(logger.lines.some((line) => line.includes("rate-limit store failed"))).toBe(true);
    await store.close();
  });

  it("lets requests through when the store is down and the policy is open", async () => {
    const store = redisStore({ url: "redis://127.0.0.1:1", prefix });
    const { url } = await serve("store-open", { rateLimit: { store, onStoreError: "open", storeTimeoutMs: 500 } });
    expect((await fetch(url, asUser("alice"))).status).toBe(200);
    await store.close();
  });

  it("can be turned off", async () => {
    const { url } = await serve("unlimited", { rateLimit: false });
    for (let i = 0; i < 12; i++) {
      const response = await fetch(url, asUser("bob"));
      expect(response.status).toBe(200);
      expect(response.headers.has("RateLimit")).toBe(false);
    }
  });
});
