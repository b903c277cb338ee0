import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTokenHandler, problemType, type LifecycleEvent, type RetryOptions } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import type { PersonaConfigInput } from "../src/providers/anam/schema.ts";
import { PERSONAS, asUser, authenticate } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";

// How upstream trouble reaches the client: what is retried, what is not, and within what time.

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(closeAll);

const FAST: RetryOptions = { baseDelayMs: 5, maxDelayMs: 20 };

async function tokenServer(options: { retry?: RetryOptions; apiKey?: string; baseUrl?: string; personas?: Record<string, PersonaConfigInput> } = {}) {
  const events: LifecycleEvent[] = [];
  const logger = capturingLogger();
  const handler = createTokenHandler({
    provider: anam({ apiKey: options.apiKey ?? TEST_API_KEY, baseUrl: options.baseUrl ?? upstream.url, retry: { ...FAST, ...options.retry } }),
    authenticate,
    personas: options.personas ?? PERSONAS,
    reuse: false,
    logger,
    onEvent: (event) => events.push(event),
  });
  const { url } = await listen("handler", handler);
  return { url: `${url}/api/session-token`, events, logger };
}

let callsBefore = 0;
beforeEach(() => {
  upstream.emulator.clearFaults();
  callsBefore = upstream.emulator.stats.mintRequests;
});
const upstreamCalls = () => upstream.emulator.stats.mintRequests - callsBefore;

async function problemOf(response: Response) {
  return (await response.json()) as { type: string; detail: string };
}

describe("retried failures", () => {
  it("waits out a 429's Retry-After, then succeeds", async () => {
    const { url, events } = await tokenServer();
    upstream.emulator.inject({ status: 429, retryAfter: 1 });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(200);
    expect(upstreamCalls()).toBe(2);
    const retried = events.find((event) => event.name === "retried");
    expect(retried).toMatchObject({ attempt: 1, delayMs: 1000, errorType: "429" });
  });

  it("gets through 500, 500 to a 200 on the third attempt", async () => {
    const { url, events } = await tokenServer();
    upstream.emulator.inject({ status: 500 }, { status: 500 });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(200);
    expect(upstreamCalls()).toBe(3);
    expect(events.filter((event) => event.name === "minting").map((event) => event.attempt)).toEqual([1, 2, 3]);
  });

  it("answers 503 with Retry-After once the attempts are spent", async () => {
    const { url, logger } = await tokenServer();
    upstream.emulator.inject({ status: 502 }, { status: 503 }, { status: 500 });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect((await problemOf(response)).type).toBe(problemType("upstream_unavailable"));
    expect(upstreamCalls()).toBe(3);
    expect(logger.lines.join("\n")).toMatch(/Anam answered 500/);
  });

  it("does not hold the request for a Retry-After beyond the cap, and passes it on", async () => {
    const { url } = await tokenServer();
    upstream.emulator.inject({ status: 429, retryAfter: 120 });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("120");
    expect(upstreamCalls()).toBe(1);
  });

  it("retries when the connection is refused, then answers 503", async () => {
    const closed = await listen("closed", () => new Response());
    await closed.close();
    const { url } = await tokenServer({ baseUrl: closed.url });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(503);
    expect((await problemOf(response)).type).toBe(problemType("upstream_unavailable"));
  });

  it("abandons a hung attempt after its timeout and tries again", async () => {
    const { url, events } = await tokenServer({ retry: { attemptTimeoutMs: 150 } });
    upstream.emulator.inject({ delayMs: 10_000 });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(200);
    expect(upstreamCalls()).toBe(2);
    expect(events.find((event) => event.name === "retried")?.errorType).toBe("timeout");
  });

  it("spends no more retries than the budget allows while the upstream keeps failing", async () => {
    const { url } = await tokenServer({ retry: { budgetMinRetries: 1, budgetRatio: 0 } });
    upstream.emulator.inject(...Array.from({ length: 6 }, () => ({ status: 500 })));
    expect((await fetch(url, asUser("alice"))).status).toBe(503);
    expect(upstreamCalls()).toBe(2);
    expect((await fetch(url, asUser("alice"))).status).toBe(503);
    expect(upstreamCalls()).toBe(3);
  });
});

describe("failures that a retry cannot fix", () => {
  it("calls exactly once on a bad API key, and answers 502 without the detail", async () => {
    const { url, logger } = await tokenServer({ apiKey: "anam_sk_wrong_key_0000000000" });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(502);
    const body = await problemOf(response);
    expect(body.type).toBe(problemType("upstream_rejected"));
    expect(body.detail).not.toMatch(/key/i);
    expect(upstreamCalls()).toBe(1);
    expect(logger.lines.join("\n")).toMatch(/Anam answered 401: Invalid API key/);
    expect(logger.lines.join("\n")).not.toContain("anam_sk_wrong_key");
  });

  it("calls exactly once when the upstream refuses the config (400) or the persona (404)", async () => {
    const { url } = await tokenServer({ personas: { ...PERSONAS, ghost: { personaId: "00000000-0000-4000-8000-000000000000" } } });
    const notFound = await fetch(url, asUser("alice", { personaType: "ghost" }));
    expect(notFound.status).toBe(502);
    expect(upstreamCalls()).toBe(1);

    upstream.emulator.inject({ status: 400, body: JSON.stringify({ error: "voiceId unknown" }) });
    const invalid = await fetch(url, asUser("alice"));
    expect(invalid.status).toBe(502);
    expect(upstreamCalls()).toBe(2);
  });

  it("treats a 200 without a usable token as an upstream error, not a crash", async () => {
    const { url } = await tokenServer();
    for (const body of ["<html>gateway</html>", "{}", '{"sessionToken": 42}', '{"sessionToken": ""}', "null"]) {
      upstream.emulator.inject({ status: 200, body });
      const response = await fetch(url, asUser("alice"));
      expect(response.status, body).toBe(502);
      expect((await problemOf(response)).type).toBe(problemType("upstream_invalid_response"));
    }
    expect(upstreamCalls()).toBe(5);
  });
});

describe("the deadline", () => {
  it("answers 504 once the overall deadline passes, however many attempts remain", async () => {
    const { url } = await tokenServer({ retry: { deadlineMs: 300, attemptTimeoutMs: 5_000 } });
    upstream.emulator.inject({ delayMs: 10_000 });
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(504);
    expect((await problemOf(response)).type).toBe(problemType("upstream_timeout"));
    expect(upstreamCalls()).toBe(1);
  });
});

describe("expiry", () => {
  it("reads the expiry from the token's exp claim", async () => {
    const shortLived = await startUpstream({ tokenLifetimeSeconds: 120 });
    const { url } = await tokenServer({ baseUrl: shortLived.url });
    const body = (await (await fetch(url, asUser("alice"))).json()) as { expiresAt: string };
    const lifetimeMs = Date.parse(body.expiresAt) - Date.now();
    expect(lifetimeMs).toBeGreaterThan(100_000);
    expect(lifetimeMs).toBeLessThanOrEqual(120_000);
  });

  it("falls back to one hour for a token without a readable exp", async () => {
    const { url } = await tokenServer();
    upstream.emulator.inject({ status: 200, body: JSON.stringify({ sessionToken: "opaque-token-value" }) });
    const body = (await (await fetch(url, asUser("alice"))).json()) as { expiresAt: string };
    const lifetimeMs = Date.parse(body.expiresAt) - Date.now();
    expect(lifetimeMs).toBeGreaterThan(59 * 60 * 1000);
    expect(lifetimeMs).toBeLessThanOrEqual(60 * 60 * 1000);
  });
});
