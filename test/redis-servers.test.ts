/**
 * Two standalone servers (`server/main.ts`, each its own process) sharing the real Redis on
 * 127.0.0.1:6379 and one Anam emulator on a loopback port (one account, so they may share its
 * tokens). Keys carry a prefix of this run's own, removed after.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUserToken } from "../server/auth.ts";
import { ConfigError, readConfig } from "../server/config.ts";
import { TEST_API_KEY, closeAll, startUpstream, type Upstream } from "./support/servers.ts";
import { standaloneServer, type StandaloneServer } from "./support/standalone.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `tollgate-servers-${process.pid}-${Date.now().toString(36)}`;
const secret = crypto.getRandomValues(new Uint8Array(32)).reduce((hex, byte) => hex + byte.toString(16).padStart(2, "0"), "");
const redis = new Redis(REDIS_URL, { lazyConnect: true });

const running = new Set<StandaloneServer>();
let upstream: Upstream;

async function startServer(name: string): Promise<StandaloneServer> {
  // One upstream account for both (each server's built-in emulator would be an account of its
  // own). One JWT secret, so one user token works on both.
  const server = await standaloneServer(name, {
    ANAM_API_KEY: TEST_API_KEY,
    ANAM_BASE_URL: upstream.url,
    TOLLGATE_JWT_SECRET: secret,
    TOLLGATE_STORE: `${REDIS_URL}/0`,
    TOLLGATE_STORE_PREFIX: prefix,
    TOLLGATE_RATE_LIMIT: "10/1h",
  });
  running.add(server);
  return server;
}

function mint(server: StandaloneServer, userToken: string): Promise<Response> {
  return fetch(`${server.origin}/api/session-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${userToken}`, "Content-Type": "application/json" },
    // The embedded demo persona every fresh server offers.
    body: JSON.stringify({ profile: "anam" }),
  });
}

let a: StandaloneServer;
let b: StandaloneServer;

beforeAll(async () => {
  await redis.connect();
  upstream = await startUpstream();
  [a, b] = await Promise.all([startServer("server-a"), startServer("server-b")]);
});

afterAll(async () => {
  await Promise.all([...running].map((server) => server.stop()));
  await closeAll();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}, 20_000);

async function userToken(id: string) {
  return signUserToken(new TextEncoder().encode(secret), id);
}

/** Sends `count` requests at once, alternating between the servers, and tallies the statuses. */
async function burst(servers: StandaloneServer[], token: string, count: number) {
  const responses = await Promise.all(Array.from({ length: count }, (_, i) => mint(servers[i % servers.length]!, token)));
  const statuses = new Map<number, number>();
  for (const response of responses) statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  return { responses, statuses };
}

describe("two servers sharing one Redis", () => {
  it("admit exactly 10 of 200 concurrent requests from one user, and refuse 190 with 429", { timeout: 40_000 }, async () => {
    await clearOfWindowEdge(3_600_000);
    const token = await userToken("user-burst");
    const { responses, statuses } = await burst([a, b], token, 200);
    expect(Object.fromEntries(statuses)).toEqual({ 200: 10, 429: 190 });
    const refused = responses.filter((response) => response.status === 429);
    for (const response of refused) {
      expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
      expect(response.headers.get("RateLimit")).toMatch(/^"user";r=0;t=\d+$/);
      expect(response.headers.get("RateLimit-Policy")).toBe('"user";q=10;w=3600');
    }
    const keys = await redis.keys(`${prefix}:*`);
    // Keys hold hashes, never the user's id or token.
    expect(keys.join(" ")).not.toContain("user-burst");
    expect(keys.join(" ")).not.toContain(token);
  });

  it("keep the count when a server restarts in the middle of a user's traffic", { timeout: 90_000 }, async () => {
    // A restart takes a while: a minute inside one window is plenty, which may mean waiting for the next.
    await clearOfWindowEdge(3_600_000, 60_000);
    const token = await userToken("user-restart");
    const before = await burst([a, b], token, 6);
    expect(Object.fromEntries(before.statuses)).toEqual({ 200: 6 });
    await a.stop();
    a = await startServer("server-a-restarted");
    const after = await burst([a, b], token, 194);
    expect(Object.fromEntries(after.statuses)).toEqual({ 200: 4, 429: 190 });
  });
});

describe("two servers sharing one Redis, the token cache", () => {
  it("hands the token one server minted to the same user asking the other", async () => {
    const token = await userToken("user-cache");
    const first = (await (await mint(a, token)).json()) as { sessionToken: string };
    const second = (await (await mint(b, token)).json()) as { sessionToken: string };
    expect(second.sessionToken).toBe(first.sessionToken);
    const keys = await redis.keys(`${prefix}:cache:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(" ")).not.toContain(first.sessionToken);
  });
});

describe("the server's store and rate-limit settings", () => {
  it("read TOLLGATE_STORE and TOLLGATE_RATE_LIMIT, with defaults", () => {
    expect(readConfig({})).toMatchObject({ store: { kind: "memory" }, rateLimit: { limit: 10, windowMs: 3_600_000 } });
    expect(readConfig({ TOLLGATE_STORE: "redis://:pw@127.0.0.1:6379/2", TOLLGATE_RATE_LIMIT: "5/30m" })).toMatchObject({
      store: { kind: "redis", url: "redis://:pw@127.0.0.1:6379/2", prefix: "tollgate" },
      rateLimit: { limit: 5, windowMs: 1_800_000 },
    });
  });

  it("stop at start-up on bad values, without repeating a URL that may hold a password", () => {
    expect(() => readConfig({ TOLLGATE_RATE_LIMIT: "lots" })).toThrow(ConfigError);
    expect(() => readConfig({ TOLLGATE_RATE_LIMIT: "lots" })).toThrow(/TOLLGATE_RATE_LIMIT must be <limit>\/<window>/);
    expect(() => readConfig({ TOLLGATE_STORE: "postgres://user:hunter2@db" })).toThrow(/TOLLGATE_STORE must be memory or a redis:\/\/ URL/);
    try {
      readConfig({ TOLLGATE_STORE: "postgres://user:hunter2@db" });
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
    expect(() => readConfig({ TOLLGATE_STORE: "redis://x", TOLLGATE_STORE_PREFIX: "a b" })).toThrow(/TOLLGATE_STORE_PREFIX/);
  });
});
