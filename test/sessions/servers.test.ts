/**
 * Two standalone servers (`server/main.ts`, each its own process) sharing the real Redis on
 * 127.0.0.1:6379 and one Anam emulator on its own loopback port (ANAM_API_KEY and ANAM_BASE_URL
 * point both at it), with TOLLGATE_MAX_SESSIONS=2. Keys carry a prefix of this run's own, removed
 * after. The emulator is reached through a switch, so a test can hand out short-lived tokens.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUserToken } from "../../server/auth.ts";
import { createAnamEmulator, type AnamEmulator } from "../../src/providers/anam/emulator.ts";
import { closeAll, listen, TEST_API_KEY, type Listening } from "../support/servers.ts";
import { standaloneServer, type StandaloneServer } from "../support/standalone.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `tollgate-sessions-${process.pid}-${Date.now().toString(36)}`;
const secret = crypto.getRandomValues(new Uint8Array(32)).reduce((hex, byte) => hex + byte.toString(16).padStart(2, "0"), "");
const redis = new Redis(REDIS_URL, { lazyConnect: true });

// One signing secret, so that a token from either emulator is redeemable at the other.
const signingSecret = crypto.getRandomValues(new Uint8Array(32));
const hourLong = createAnamEmulator({ apiKey: TEST_API_KEY, signingSecret });
const shortLived = createAnamEmulator({ apiKey: TEST_API_KEY, signingSecret, tokenLifetimeSeconds: 3 });
let upstream: AnamEmulator = hourLong;
let upstreamServer: Listening;

const running = new Set<StandaloneServer>();

async function startServer(name: string): Promise<StandaloneServer> {
  const server = await standaloneServer(name, {
    ANAM_API_KEY: TEST_API_KEY,
    ANAM_BASE_URL: upstreamServer.url,
    TOLLGATE_JWT_SECRET: secret,
    TOLLGATE_STORE: `${REDIS_URL}/0`,
    TOLLGATE_STORE_PREFIX: prefix,
    TOLLGATE_RATE_LIMIT: "10000/1h",
    TOLLGATE_MAX_SESSIONS: "2",
    TOLLGATE_MAX_SESSION_SECONDS: "600",
    TOLLGATE_METRICS: "prometheus",
  });
  running.add(server);
  return server;
}

let a: StandaloneServer;
let b: StandaloneServer;

beforeAll(async () => {
  await redis.connect();
  upstreamServer = await listen("anam-emulator", (request) => upstream.fetch(request));
  [a, b] = await Promise.all([startServer("server-a"), startServer("server-b")]);
}, 60_000);

afterAll(async () => {
  await Promise.all([...running].map((server) => server.stop()));
  await closeAll();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}, 20_000);

const userToken = (id: string) => signUserToken(new TextEncoder().encode(secret), id);

function mint(server: StandaloneServer, user: string, clientId?: string): Promise<Response> {
  return fetch(`${server.origin}/api/session-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user}`, "Content-Type": "application/json" },
    body: JSON.stringify({ profile: "anam", ...(clientId ? { clientId } : {}) }),
  });
}

function report(server: StandaloneServer, user: string, token: string, event: "started" | "ended" | "failed"): Promise<Response> {
  return fetch(`${server.origin}/api/session-token/usage`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user}`, "Content-Type": "application/json" },
    body: JSON.stringify({ token, event, ...(event === "ended" ? { durationMs: 1000 } : {}) }),
  });
}

/** Every lease held in the store, over all users: the members of each user's sorted set. */
async function leasesHeld(): Promise<number> {
  const keys = await redis.keys(`${prefix}:lease:*`);
  const counts = await Promise.all(keys.map((key) => redis.zcount(key, Date.now(), "+inf")));
  return counts.reduce((sum, count) => sum + count, 0);
}

/** One request per tab, `count` tabs at once, alternating between the servers. */
async function tabs(user: string, count: number, tag: string) {
  const responses = await Promise.all(Array.from({ length: count }, (_, i) => mint([a, b][i % 2]!, user, `${tag}-${i}`)));
  const statuses: Record<number, number> = {};
  for (const response of responses) statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  return { responses, statuses };
}

describe("session leases across two servers on one Redis", () => {
  it("state the worst case per user when they start", () => {
    expect(a.output.join("\n")).toMatch(
      /tollgate: worst case per user at [a-z, ]+ \(their providers end each session at the ceiling\): 10000 tokens per 1 h x 10 min sessions = 100000 min of sessions per 1 h, at most 2 at a time/,
    );
  });

  it("hold at most 2 leases for 200 concurrent requests from one user, refuse the rest with session_limit, and mint only for the 2", async () => {
    const user = await userToken("user-burst");
    const mintsBefore = upstream.stats.mintRequests;
    const { responses, statuses } = await tabs(user, 200, "burst");
    expect(statuses).toEqual({ 200: 2, 429: 198 });
    expect(upstream.stats.mintRequests - mintsBefore).toBe(2);
    expect(await leasesHeld()).toBe(2);
    for (const response of responses.filter((r) => r.status === 429)) {
      const problem = (await response.json()) as { type: string };
      expect(problem.type).toBe("urn:tollgate:error:session_limit");
      const retryAfter = Number(response.headers.get("Retry-After"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(3600);
    }
    // Both servers read the same gauge from the store.
    const gauges = await Promise.all([a, b].map(async (server) => /tollgate_sessions_leased\{[^}]*tollgate_profile="anam"[^}]*\} (\d+)/.exec(await (await fetch(`${server.origin}/metrics`)).text())?.[1]));
    expect(gauges).toEqual(["2", "2"]);
  });

  it("free a slot at once when a session is reported ended, on either server", async () => {
    const user = await userToken("user-ended");
    const first = await tabs(user, 2, "ended");
    expect(first.statuses).toEqual({ 200: 2 });
    expect((await mint(a, user, "ended-third")).status).toBe(429);
    const { token } = (await first.responses[0]!.json()) as { token: string };
    expect((await report(b, user, token, "started")).status).toBe(204);
    expect((await report(b, user, token, "ended")).status).toBe(204);
    expect((await mint(a, user, "ended-third")).status).toBe(200);
    expect((await mint(b, user, "ended-fourth")).status).toBe(429);
  });

  it("keep the count when a server restarts in the middle", async () => {
    const user = await userToken("user-restart");
    expect((await mint(a, user, "restart-1")).status).toBe(200);
    await a.stop();
    a = await startServer("server-a-restarted");
    expect((await mint(a, user, "restart-2")).status).toBe(200);
    const refused = await mint(a, user, "restart-3");
    expect(refused.status).toBe(429);
    expect((await refused.json()) as { type: string }).toMatchObject({ type: "urn:tollgate:error:session_limit" });
  }, 30_000);

  it("let a lease lapse by itself when its token expires unstarted", async () => {
    upstream = shortLived;
    try {
      const user = await userToken("user-lapse");
      const held = await tabs(user, 2, "lapse");
      expect(held.statuses).toEqual({ 200: 2 });
      const refused = await mint(b, user, "lapse-third");
      expect(refused.status).toBe(429);
      // The earliest lease lapses with its token, within the token's 3-second life.
      expect(Number(refused.headers.get("Retry-After"))).toBeLessThanOrEqual(3);
      const expiresAt = Math.max(...(await Promise.all(held.responses.map(async (r) => Date.parse(((await r.json()) as { expiresAt: string }).expiresAt)))));
      await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 100));
      expect((await mint(b, user, "lapse-third")).status).toBe(200);
    } finally {
      upstream = hourLong;
    }
  }, 20_000);
});

describe("one upstream call per key across two servers on one Redis", () => {
  it("make exactly one upstream call and hand out one token for 1,000 concurrent requests for one key", async () => {
    const user = await userToken("user-one-key");
    const mintsBefore = upstream.stats.mintRequests;
    // Slow enough that requests to both servers arrive while the one mint is in flight.
    upstream.latencyMs = 300;
    try {
      const responses = await Promise.all(Array.from({ length: 1000 }, (_, i) => mint([a, b][i % 2]!, user, "one-tab")));
      const bodies = (await Promise.all(responses.map((response) => response.json()))) as Array<{ token?: string }>;
      expect(responses.map((response) => response.status).filter((status) => status !== 200)).toEqual([]);
      expect(new Set(bodies.map((body) => body.token)).size).toBe(1);
      expect(upstream.stats.mintRequests - mintsBefore).toBe(1);
    } finally {
      upstream.latencyMs = 0;
    }
  }, 60_000);
});
