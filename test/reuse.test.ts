import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTokenHandler, problemType, type LifecycleEvent, type TokenHandler } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { PERSONAS, asUser, authenticate } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";

// The reuse cache and the single-use rule, over real HTTP.

let upstream: Upstream;
let handler: TokenHandler;
let base: string;
const events: LifecycleEvent[] = [];

beforeAll(async () => {
  upstream = await startUpstream({ latencyMs: 50 });
  handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
    authenticate,
    personas: PERSONAS,
    allowClientConfig: true,
    logger: capturingLogger(),
    onEvent: (event) => events.push(event),
    // These tests send one user well over the default 10 an hour; rate limits have tests of their own.
    rateLimit: false,
  });
  base = (await listen("handler", handler)).url + "/api/session-token";
});
afterAll(closeAll);

let callsBefore = 0;
beforeEach(() => {
  callsBefore = upstream.emulator.stats.mintRequests;
  events.length = 0;
});
const upstreamCalls = () => upstream.emulator.stats.mintRequests - callsBefore;

async function tokenFor(user: "alice" | "bob", body?: unknown): Promise<string> {
  const response = await fetch(base, asUser(user, body));
  expect(response.status).toBe(200);
  return ((await response.json()) as { sessionToken: string }).sessionToken;
}

function report(user: "alice" | "bob", body: unknown) {
  return fetch(`${base}/usage`, asUser(user, body));
}

describe("reuse", () => {
  it("hands the same user the same unused token for the same persona", async () => {
    const first = await tokenFor("alice", { personaType: "sales" });
    const second = await tokenFor("alice", { personaType: "sales" });
    expect(second).toBe(first);
    expect(upstreamCalls()).toBe(1);
    expect(events.filter((event) => event.name === "issued").map((event) => event.cacheHit)).toEqual([false, true]);
  });

  it("never hands one user's token to another, nor one persona's to another", async () => {
    const alice = await tokenFor("alice", { personaType: "support" });
    const bob = await tokenFor("bob", { personaType: "support" });
    const aliceSales = await tokenFor("alice", { personaType: "sales" });
    expect(new Set([alice, bob, aliceSales]).size).toBe(3);
  });

  it("keys configs by their content, whatever the key order or script", async () => {
    const config = { name: "Zoë 🚀 東京", avatarId: PERSONAS.support.avatarId, voiceId: PERSONAS.support.voiceId };
    const reordered = { voiceId: config.voiceId, avatarId: config.avatarId, name: config.name };
    const first = await tokenFor("bob", { personaConfig: config });
    expect(await tokenFor("bob", { personaConfig: reordered })).toBe(first);
    expect(upstreamCalls()).toBe(1);
  });

  it("answers 400 for a browser's config that has no JSON form (a lone surrogate in its prompt)", async () => {
    // JSON text can escape half a surrogate pair; JSON.parse then gives a string with a lone surrogate.
    const body = JSON.stringify({ personaConfig: { ...PERSONAS.support, systemPrompt: "half HALF a pair" } }).replace("HALF", "\\ud800");
    const response = await fetch(base, { ...asUser("alice"), body });
    expect(response.status).toBe(400);
    expect((await response.json()) as { detail: string }).toMatchObject({ detail: expect.stringContaining("config: has no JSON form") });
  });

  it("hashes a long config once, when the profile is made, not on every cache hit", async () => {
    // A persona's system prompt can run to many kilobytes: hashing it per request would make every
    // cache hit pay for it (and past the digest memo's bound, with a WebCrypto call each time).
    const long = { ...PERSONAS.support, systemPrompt: "Be helpful. ".repeat(2_000) };
    const longHandler = createTokenHandler({ provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }), authenticate, personas: { long }, logger: capturingLogger(), rateLimit: false });
    const url = (await listen("long-config", longHandler)).url + "/api/session-token";
    const first = await fetch(url, asUser("alice", { profile: "long" }));
    const { token } = (await first.json()) as { token: string };
    const digested: number[] = [];
    const subtleDigest = crypto.subtle.digest;
    crypto.subtle.digest = function (algorithm, data) {
      digested.push((data as Uint8Array).byteLength);
      return subtleDigest.call(this, algorithm, data);
    };
    try {
      for (let i = 0; i < 5; i++) {
        const again = await fetch(url, asUser("alice", { profile: "long" }));
        expect(((await again.json()) as { token: string }).token).toBe(token);
      }
    } finally {
      crypto.subtle.digest = subtleDigest;
    }
    expect(digested.filter((bytes) => bytes >= 20_000)).toEqual([]);
  });

  it("makes one upstream call for 50 concurrent requests with one key", async () => {
    const body = { personaConfig: { ...PERSONAS.support, name: `Cara ${crypto.randomUUID()}` } };
    const tokens = await Promise.all(Array.from({ length: 50 }, () => tokenFor("alice", body)));
    expect(new Set(tokens).size).toBe(1);
    expect(upstreamCalls()).toBe(1);
  });

  it("keeps a margin before expiry that fits the token's lifetime: a sixth of a 5-minute token, or the margin set", async () => {
    const shortLived = await startUpstream({ tokenLifetimeSeconds: 300 });
    const provider = anam({ apiKey: TEST_API_KEY, baseUrl: shortLived.url });
    const fitted = (await listen("handler-short", createTokenHandler({ provider, authenticate, personas: PERSONAS }))).url;
    const first = await (await fetch(fitted, asUser("alice"))).json();
    expect(await (await fetch(fitted, asUser("alice"))).json()).toEqual(first);
    expect(shortLived.emulator.stats.mintRequests).toBe(1);

    const wide = createTokenHandler({ provider, authenticate, personas: PERSONAS, reuse: { marginMs: 10 * 60 * 1000 } });
    const url = (await listen("handler-wide-margin", wide)).url;
    const a = await (await fetch(url, asUser("alice"))).json();
    const b = await (await fetch(url, asUser("alice"))).json();
    expect(a).not.toEqual(b);
    expect(shortLived.emulator.stats.mintRequests).toBe(3);
  });
});

describe("usage reports", () => {
  it("evicts a token once its session starts, so the next request gets a fresh one", async () => {
    const used = await tokenFor("alice");
    expect(await handler.issuer.inspectToken(used)).toMatchObject({ started: false, expired: false, known: true });

    const started = await report("alice", { sessionToken: used, event: "started" });
    expect(started.status).toBe(204);
    expect(await handler.issuer.inspectToken(used)).toMatchObject({ started: true, known: true });

    const fresh = await tokenFor("alice");
    expect(fresh).not.toBe(used);
    expect(events.map((event) => event.name)).toEqual(expect.arrayContaining(["evicted", "started"]));
    expect(events.find((event) => event.name === "evicted")?.reason).toBe("started");
  });

  it("records the session's duration when it ends", async () => {
    const token = await tokenFor("bob");
    await report("bob", { sessionToken: token, event: "started" });
    const ended = await report("bob", { sessionToken: token, event: "ended", durationMs: 95_000 });
    expect(ended.status).toBe(204);
    expect(events.find((event) => event.name === "ended")).toMatchObject({ durationMs: 95_000 });
  });

  it("refuses a report on another user's token, and leaves the token in the cache", async () => {
    const alices = await tokenFor("alice", { personaType: "sales" });
    const response = await report("bob", { sessionToken: alices, event: "started" });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { type: string }).type).toBe(problemType("token_not_owned"));
    expect(await tokenFor("alice", { personaType: "sales" })).toBe(alices);
  });

  it("answers 404 for a token it never issued, 400 for a bad report, 401 without a user", async () => {
    expect((await report("alice", { sessionToken: "eyJ.not.ours", event: "started" })).status).toBe(404);
    expect((await report("alice", { sessionToken: "x", event: "paused" })).status).toBe(400);
    // Half a surrogate pair has no UTF-8 form, so no digest finds a record by it: a bad report, not a 500.
    const halfPair = await fetch(`${base}/usage`, { ...asUser("alice"), body: '{"token":"ey\\ud800","event":"started"}' });
    expect(halfPair.status).toBe(400);
    expect(((await halfPair.json()) as { detail: string }).detail).toBe("token: must be well-formed Unicode");
    const anonymous = await fetch(`${base}/usage`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(anonymous.status).toBe(401);
  });

  it("tells a token's expiry without an upstream call, even for a token it does not know", async () => {
    const token = await tokenFor("bob", { personaType: "sales" });
    const before = upstream.emulator.stats.mintRequests;
    const inspection = await handler.issuer.inspectToken(token);
    expect(inspection.expiresAt).toBeGreaterThan(Date.now());
    const forgetful = createTokenHandler({ provider: anam({ apiKey: TEST_API_KEY }), authenticate, personas: PERSONAS });
    expect(await forgetful.issuer.inspectToken(token)).toMatchObject({ known: false, started: false, expiresAt: inspection.expiresAt });
    expect(upstream.emulator.stats.mintRequests).toBe(before);
  });
});

describe("the emulator's single-use rule", () => {
  it("lets a token start one session only, and never mint", async () => {
    const token = await tokenFor("alice", { personaConfig: { ...PERSONAS.support, name: "Single use" } });
    const start = () => fetch(`${upstream.url}/v1/engine/session`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    expect((await start()).status).toBe(200);
    expect((await start()).status).toBe(401);
    const mint = await fetch(`${upstream.url}/v1/auth/session-token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ personaConfig: PERSONAS.support }),
    });
    expect(mint.status).toBe(401);
  });
});
