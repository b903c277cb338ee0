/**
 * Session leases and the fleet lock as the handler and the issuer use them: over real HTTP on the
 * memory store, and two issuers with Redis clients of their own on the real Redis, as two servers.
 */
import { Redis } from "ioredis";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { unstorageStore } from "../../adapters/unstorage.ts";
import { createProfile, createTokenHandler, createTokenIssuer, OptionError, type LifecycleEvent, type TokenHandler } from "../../src/index.ts";
import { requestKeys } from "../../src/issuer/keys.ts";
import { memoryCache } from "../../src/store/memory-cache.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { PERSONAS, asUser, authenticate } from "../support/personas.ts";
import { deleteKeysUnder } from "../support/redis-keys.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "../support/servers.ts";
import { counterValue, inMemoryTelemetry } from "../support/telemetry.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `tollgate-issuer-leases-${process.pid}-${Date.now().toString(36)}`;
let upstream: Upstream;
let handler: TokenHandler;
let base: string;
const events: LifecycleEvent[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
    authenticate,
    personas: PERSONAS,
    logger: capturingLogger(),
    onEvent: (event) => events.push(event),
    rateLimit: false,
    sessions: { maxPerUser: 1 },
  });
  base = (await listen("handler", handler)).url + "/api/session-token";
});

afterAll(async () => {
  await closeAll();
  await deleteKeysUnder(REDIS_URL, runPrefix);
  for (const client of clients) client.disconnect();
});

let callsBefore = 0;
beforeEach(() => {
  callsBefore = upstream.emulator.stats.mintRequests;
  events.length = 0;
  upstream.emulator.clearFaults();
});
const upstreamCalls = () => upstream.emulator.stats.mintRequests - callsBefore;
const names = () => events.map((event) => event.name);

async function ask(user: "alice" | "bob", clientId: string) {
  return fetch(base, asUser(user, { personaType: "support", clientId }));
}
async function usage(user: "alice" | "bob", token: string, event: string) {
  return fetch(`${base}/usage`, asUser(user, { token, event }));
}

describe("session leases in the handler", () => {
  it("take no second lease for a cached token handed out again, and refuse another tab without an upstream call", async () => {
    const first = await ask("alice", "tab-1");
    const again = await ask("alice", "tab-1");
    const { sessionToken } = (await first.json()) as { sessionToken: string };
    expect(((await again.json()) as { sessionToken: string }).sessionToken).toBe(sessionToken);
    const refused = await ask("alice", "tab-2");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { type: string }).type).toBe("urn:tollgate:error:session_limit");
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(upstreamCalls()).toBe(1);
    expect(names().filter((name) => name === "lease_taken")).toHaveLength(1);
    expect(names()).toContain("session_limited");
    // Started, then failed (which ends a started session): the lease goes with the session.
    expect((await usage("alice", sessionToken, "started")).status).toBe(204);
    expect((await ask("alice", "tab-2")).status).toBe(429);
    expect((await usage("alice", sessionToken, "failed")).status).toBe(204);
    expect(events.find((event) => event.name === "lease_released")).toMatchObject({ reason: "ended", profile: "support" });
    const freed = await ask("alice", "tab-2");
    expect(freed.status).toBe(200);
    await usage("alice", ((await freed.json()) as { sessionToken: string }).sessionToken, "ended");
  });

  it("release the lease of a mint that failed, so the user is not held to a token they never got", async () => {
    upstream.emulator.inject({ status: 400 });
    expect((await ask("bob", "tab-1")).status).toBe(502);
    expect(events.find((event) => event.name === "lease_released")).toMatchObject({ reason: "mint_failed" });
    const next = await ask("bob", "tab-1");
    expect(next.status).toBe(200);
    await usage("bob", ((await next.json()) as { sessionToken: string }).sessionToken, "ended");
  });

  it("refuse options that cannot work when the handler is made, naming the option", () => {
    const make = (extra: object) => () => createTokenHandler({ provider: anam({ apiKey: TEST_API_KEY }), authenticate, personas: PERSONAS, ...extra });
    expect(make({ sessions: { maxPerUser: 0 } })).toThrow(OptionError);
    expect(make({ sessions: { maxPerUser: 1.5 } })).toThrow(/sessions\.maxPerUser/);
    expect(make({ sessions: 2 })).toThrow(/sessions: must be \{ maxPerUser \}/);
    expect(make({ sessions: { maxPerUser: 1 }, issuer: createTokenIssuer() })).toThrow(/sessions: belongs to the issuer/);
  });
});

describe("a token the client let go without starting a session", () => {
  it("frees its lease and leaves the cache when reported discarded, so a refresh gets a fresh token with one lease per user", async () => {
    const prefetched = await ask("alice", "tab-9");
    const { sessionToken } = (await prefetched.json()) as { sessionToken: string };
    // Another tab, or a refresh once the cache stops handing it out, is refused while it holds the lease.
    expect((await ask("alice", "tab-10")).status).toBe(429);

    events.length = 0;
    expect((await usage("alice", sessionToken, "discarded")).status).toBe(204);
    expect(names()).toEqual(expect.arrayContaining(["discarded", "evicted", "lease_released"]));
    expect(events.find((event) => event.name === "evicted")).toMatchObject({ reason: "discarded" });
    expect(events.find((event) => event.name === "lease_released")).toMatchObject({ reason: "discarded", profile: "support" });
    expect(events.find((event) => event.name === "discarded")).toMatchObject({ provider: "anam", profile: "support" });

    // Told twice, it changes nothing more.
    events.length = 0;
    expect((await usage("alice", sessionToken, "discarded")).status).toBe(204);
    expect(names()).toEqual([]);

    const fresh = await ask("alice", "tab-9");
    expect(fresh.status).toBe(200);
    const next = ((await fresh.json()) as { sessionToken: string }).sessionToken;
    expect(next).not.toBe(sessionToken);
    await usage("alice", next, "ended");
  });

  it("changes nothing once the session started, and takes a start after it as a start that holds no lease", async () => {
    const started = ((await (await ask("bob", "tab-1")).json()) as { sessionToken: string }).sessionToken;
    expect((await usage("bob", started, "started")).status).toBe(204);
    events.length = 0;
    expect((await usage("bob", started, "discarded")).status).toBe(204);
    expect(names()).toEqual([]);
    expect((await ask("bob", "tab-2")).status).toBe(429);
    await usage("bob", started, "ended");

    const discarded = ((await (await ask("bob", "tab-3")).json()) as { sessionToken: string }).sessionToken;
    expect((await usage("bob", discarded, "discarded")).status).toBe(204);
    events.length = 0;
    expect((await usage("bob", discarded, "started")).status).toBe(204);
    expect(names()).toEqual(["started"]);
    // The start took no lease back: the user may still have one fresh token.
    const another = await ask("bob", "tab-4");
    expect(another.status).toBe(200);
    await usage("bob", ((await another.json()) as { sessionToken: string }).sessionToken, "ended");
    events.length = 0;
    expect((await usage("bob", discarded, "ended")).status).toBe(204);
    expect(names()).toEqual(["ended"]);
  });
});

describe("a discarded token on the issuer's telemetry", () => {
  it("counts on tollgate.tokens.discarded, once however often it is told", async () => {
    const telemetry = inMemoryTelemetry();
    const issuer = createTokenIssuer({ meterProvider: telemetry.meterProvider, sessions: { maxPerUser: 1 } });
    const profile = createProfile("support", anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }), PERSONAS.support);
    const { token } = await issuer.issue({ profile, userId: "kim" });
    for (let i = 0; i < 2; i++) await issuer.reportUsage({ token, userId: "kim", event: "discarded" });
    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.tokens.discarded"), { "tollgate.profile": "support" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.cache.evictions"), { "tollgate.eviction.reason": "discarded" })).toBe(1);
  });
});

describe("leases on a store that cannot hold them", () => {
  const leaseLines = (lines: string[]) => lines.filter((line) => /session leases are held in this process's memory/.test(line));
  const handlerWith = (store: object | undefined) => {
    const logger = capturingLogger();
    createTokenHandler({ provider: anam({ apiKey: TEST_API_KEY }), authenticate, personas: PERSONAS, logger, sessions: { maxPerUser: 2 }, ...(store ? { store } : {}) } as Parameters<typeof createTokenHandler>[0]);
    return logger.lines;
  };

  it("say once, through the handler's logger, when the handler is made, that leases stay in each process", () => {
    const onMemoryDriver = unstorageStore({ storage: createStorage({ driver: memoryDriver() }), onWarning: () => {} });
    for (const store of [onMemoryDriver, memoryCache()]) {
      const lines = leaseLines(handlerWith(store));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", maxPerUser: 2 });
    }
  });

  it("say nothing when the store holds them, or when there is no store and one process is the whole fleet", () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    clients.push(client);
    expect(leaseLines(handlerWith(redisStore({ client, prefix: `${runPrefix}-quiet` })))).toEqual([]);
    expect(leaseLines(handlerWith(undefined))).toEqual([]);
  });
});

describe("the fleet lock, two issuers on one Redis", () => {
  const server = (prefix: string, onEvent?: (event: LifecycleEvent) => void) => {
    const client = new Redis(REDIS_URL, { enableAutoPipelining: true });
    clients.push(client);
    return createTokenIssuer({ store: redisStore({ client, prefix }), onEvent });
  };
  const profile = () => createProfile("support", anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { attempts: 1 } }), PERSONAS.support);

  it("hand every waiter the holder's error, without an upstream call of their own", async () => {
    const prefix = `${runPrefix}-error`;
    const [one, two] = [server(prefix), server(prefix)];
    upstream.emulator.latencyMs = 200;
    upstream.emulator.inject({ status: 401 });
    try {
      const outcomes = await Promise.allSettled([one, two, one, two].map((issuer) => issuer.issue({ profile: profile(), userId: "carol" })));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
      for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: "upstream_rejected" });
      expect(upstreamCalls()).toBe(1);
    } finally {
      upstream.emulator.latencyMs = 0;
    }
  });

  it("take over once a holder that died lets its lock lapse, and mint once", async () => {
    const prefix = `${runPrefix}-takeover`;
    const heard: LifecycleEvent[] = [];
    const issuer = server(prefix, (event) => heard.push(event));
    const keys = await requestKeys(profile(), "dave", undefined);
    // A holder that took the lock and died: nothing will ever release it.
    const admin = redisStore({ client: clients[clients.length - 1]!, prefix });
    expect((await admin.acquireLock(`lock:${keys.reuseKey}`, "dead-holder", 400)).taken).toBe(true);
    const issued = await issuer.issue({ profile: profile(), userId: "dave" });
    expect(issued.cacheHit).toBe(false);
    expect(upstreamCalls()).toBe(1);
    const waited = heard.find((event) => event.name === "flight_waited");
    expect(waited?.durationMs).toBeGreaterThanOrEqual(300);
  });
});
