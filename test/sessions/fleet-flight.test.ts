/**
 * The single flight across servers and within one, where a request races another's mint: two
 * issuers with Redis clients of their own on the real Redis (as two servers), and one issuer alone.
 * Keys carry this run's own prefix, removed afterwards.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { createProfile, createTokenIssuer, type LifecycleEvent } from "../../src/index.ts";
import { requestKeys } from "../../src/issuer/keys.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { memoryCache } from "../../src/store/memory-cache.ts";
import type { CacheStore } from "../../src/store/types.ts";
import { PERSONAS } from "../support/personas.ts";
import { sparePort } from "../support/ports.ts";
import { redisProcess } from "../support/redis-process.ts";
import { deleteKeysUnder } from "../support/redis-keys.ts";
import { TEST_API_KEY, capturingLogger, closeAll, startUpstream, type Upstream } from "../support/servers.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `tollgate-fleet-flight-${process.pid}-${Date.now().toString(36)}`;
let upstream: Upstream;
const clients: Redis[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
});

afterAll(async () => {
  await closeAll();
  await deleteKeysUnder(REDIS_URL, runPrefix);
  for (const client of clients) client.disconnect();
});

let callsBefore = 0;
beforeEach(() => {
  callsBefore = upstream.emulator.stats.mintRequests;
  upstream.emulator.clearFaults();
  upstream.emulator.latencyMs = 0;
});
const upstreamCalls = () => upstream.emulator.stats.mintRequests - callsBefore;

const provider = () => anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { attempts: 1 } });

/** A Redis store of its own client, as each server of a fleet has. */
function redisOf(prefix: string) {
  const client = new Redis(REDIS_URL, { enableAutoPipelining: true });
  clients.push(client);
  return redisStore({ client, prefix });
}

/** `store`, telling when each cache read has its answer: the moment a request has seen a miss. */
function readsTold<S extends CacheStore>(store: S): S & { read: Promise<void> } {
  let told!: () => void;
  const read = new Promise<void>((resolve) => (told = resolve));
  return Object.assign(Object.create(null), store, {
    read,
    get: async <T>(key: string) => {
      const value = await store.get<T>(key);
      told();
      return value;
    },
    // The issuer reads a reuse entry through this one where the store has it.
    getDependent: async <T>(key: string) => {
      const value = await store.getDependent!<T>(key);
      told();
      return value;
    },
  });
}

/** A promise and the function that settles it: what holds a request between its cache read and its mint. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe("a request whose cache read missed just before another's mint", () => {
  it("on a second server, takes the lock only to find the token and hands it out: one upstream call", async () => {
    const prefix = `${runPrefix}-late-reader`;
    const profile = createProfile("support", provider(), PERSONAS.support);
    const first = createTokenIssuer({ store: redisOf(prefix) });
    const secondStore = readsTold(redisOf(prefix));
    const second = createTokenIssuer({ store: secondStore });

    // The second server reads the cache (a miss), and is held there while the first mints.
    const admitted = gate();
    const late = second.issue({ profile, userId: "erin", admitted: admitted.opened });
    await secondStore.read;
    const minted = await first.issue({ profile, userId: "erin" });
    admitted.open();
    const handed = await late;

    expect(handed.token).toBe(minted.token);
    expect(handed.cacheHit).toBe(true);
    expect(upstreamCalls()).toBe(1);
  });

  it("in one process with one lease per user, hands out the cached token rather than refusing for the lease", async () => {
    const profile = createProfile("support", provider(), PERSONAS.support);
    const events: LifecycleEvent[] = [];
    const store = readsTold(memoryCache());
    const issuer = createTokenIssuer({ store, sessions: { maxPerUser: 1 }, onEvent: (event) => events.push(event) });

    const admitted = gate();
    const late = issuer.issue({ profile, userId: "frank", admitted: admitted.opened });
    await store.read;
    const minted = await issuer.issue({ profile, userId: "frank" });
    admitted.open();
    const handed = await late;

    expect(handed.token).toBe(minted.token);
    expect(events.map((event) => event.name)).not.toContain("session_limited");
    expect(events.filter((event) => event.name === "lease_taken")).toHaveLength(1);
    expect(upstreamCalls()).toBe(1);
  });
});


/** `store`, telling when a lock it asked for was held by someone else: the moment a request waits on another's mint. */
function waitsTold<S extends ReturnType<typeof redisStore>>(store: S): S & { waiting: Promise<void> } {
  let told!: () => void;
  const waiting = new Promise<void>((resolve) => (told = resolve));
  return Object.assign(Object.create(null), store, {
    waiting,
    acquireLock: async (key: string, holder: string, ttlMs: number) => {
      const lock = await store.acquireLock(key, holder, ttlMs);
      if (!lock.taken) told();
      return lock;
    },
  });
}

describe("a holder whose callers all went away", () => {
  it("leaves no outcome: the waiter on another server takes over and mints, rather than answering 500", async () => {
    const prefix = `${runPrefix}-abandoned`;
    const profile = createProfile("support", provider(), PERSONAS.support);
    const heard: LifecycleEvent[] = [];
    let minting!: () => void;
    const started = new Promise<void>((resolve) => (minting = resolve));
    const holderServer = createTokenIssuer({ store: redisOf(prefix), onEvent: (event) => event.name === "minting" && minting() });
    const waiterStore = waitsTold(redisOf(prefix));
    const waiterServer = createTokenIssuer({ store: waiterStore, onEvent: (event) => heard.push(event) });
    upstream.emulator.latencyMs = 300;

    const client = new AbortController();
    const holder = holderServer.issue({ profile, userId: "gina", signal: client.signal });
    holder.catch(() => {});
    await started;
    const waiter = waiterServer.issue({ profile, userId: "gina" });
    await waiterStore.waiting;
    client.abort();

    await expect(holder).rejects.toThrow();
    const issued = await waiter;
    expect(issued.cacheHit).toBe(false);
    expect(heard.map((event) => event.name)).toContain("flight_waited");
    expect(upstreamCalls()).toBe(2);
  });
});

describe("how long the fleet waits", () => {
  it("gives up on a holder that does not answer after the upstream deadline and a margin, not after two lock lifetimes", async () => {
    const prefix = `${runPrefix}-bounded-wait`;
    const profile = createProfile("support", anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { attempts: 1, deadlineMs: 500 } }), PERSONAS.support);
    const store = redisOf(prefix);
    const issuer = createTokenIssuer({ store });
    const keys = await requestKeys(profile, "hank", undefined);
    // A holder that took the lock for far longer than any mint, and died: only its TTL frees the key.
    expect((await store.acquireLock(`lock:${keys.reuseKey}`, "dead-holder", 5_000)).taken).toBe(true);

    // Waiting as long as two lock lifetimes, the request would outlast the dead holder's lock and mint.
    await expect(issuer.issue({ profile, userId: "hank" })).rejects.toMatchObject({ code: "upstream_timeout" });
    expect(upstreamCalls()).toBe(0);
  });
});

describe("a holder held up by its store writes", () => {
  let port = 0;
  const own = redisProcess(() => port);
  afterAll(() => own.stop());

  it("says so in the log when it held the lock past its ttl, and still hands its token out", async () => {
    // A Redis of this suite's own: pausing writes on the shared one would stall every other suite.
    port = await sparePort();
    await own.start();
    const client = new Redis({ port, host: "127.0.0.1" });
    const admin = new Redis({ port, host: "127.0.0.1" });
    clients.push(client, admin);
    const logger = capturingLogger();
    let minting!: () => void;
    const started = new Promise<void>((resolve) => (minting = resolve));
    const issuer = createTokenIssuer({ store: redisStore({ client, prefix: "slow-writes" }), logger, onEvent: (event) => event.name === "minting" && minting() });
    const profile = createProfile("support", anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { attempts: 1, deadlineMs: 500 } }), PERSONAS.support);
    upstream.emulator.latencyMs = 100;

    const issuing = issuer.issue({ profile, userId: "ivy" });
    await started;
    // Writes wait past the lock's ttl (the deadline and the store writes' margin); reads go on.
    await admin.call("CLIENT", "PAUSE", "4000", "WRITE");
    const issued = await issuing;

    expect(issued.cacheHit).toBe(false);
    const line = logger.lines.map((text) => JSON.parse(text) as { level: string; message: string; lockTtlMs?: number }).find((entry) => /fleet lock past its ttl/.test(entry.message));
    expect(line).toMatchObject({ level: "warn", lockTtlMs: 3_500, provider: "anam", profile: "support" });
  }, 20_000);
});
