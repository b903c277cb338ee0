import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { createTokenHandler, defaultReuseMargin, parseConfig, problemType, tokenUseOf, type Provider, type TokenUse } from "../../src/index.ts";
import type { Emulator } from "../../src/providers/emulator.ts";
import { anam, createAnamEmulator } from "../../src/providers/anam/index.ts";
import { assemblyai, createAssemblyAIEmulator } from "../../src/providers/assemblyai/index.ts";
import { createDeepgramEmulator, deepgram } from "../../src/providers/deepgram/index.ts";
import { createElevenLabsEmulator, elevenlabs } from "../../src/providers/elevenlabs/index.ts";
import { createGeminiEmulator, gemini } from "../../src/providers/gemini/index.ts";
import { createLiveAvatarEmulator, liveavatar } from "../../src/providers/liveavatar/index.ts";
import { livekit } from "../../src/providers/livekit/index.ts";
import { createOpenAIEmulator, openai } from "../../src/providers/openai/index.ts";
import { createXaiEmulator, xai } from "../../src/providers/xai/index.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen } from "../support/servers.ts";

// Every provider through the same handler over real loopback HTTP: the token and its expiry in the
// answer, reuse that follows the token's use, retries by failure class, and the error mapping.

afterAll(closeAll);

const KEY = "provider_key_3b9f2c7e1a6d4058";
const fastRetries = { baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 2_000, deadlineMs: 5_000 };

interface Case {
  name: string;
  /** The token's lifetime for the demo config, as the provider's sources give it, in seconds. */
  lifetimeSeconds: number;
  use: TokenUse;
  /** The provider pointed at its emulator on a loopback port; LiveKit signs locally and has none. */
  start(): Promise<{ provider: Provider<any, any>; emulator?: Emulator }>;
  demo: unknown;
}

async function onLoopback<E extends Emulator>(emulator: E, make: (baseUrl: string) => Provider<any, any>) {
  const server = await listen("provider-emulator", emulator.fetch);
  return { provider: make(server.url), emulator };
}

const cases: Case[] = [
  { name: "anam", lifetimeSeconds: 3600, use: "single-use", demo: anam.demo, start: () => onLoopback(createAnamEmulator({ apiKey: KEY }), (baseUrl) => anam({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "openai", lifetimeSeconds: 600, use: "reusable", demo: openai.demo, start: () => onLoopback(createOpenAIEmulator({ apiKey: KEY }), (baseUrl) => openai({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "xai", lifetimeSeconds: 600, use: "reusable", demo: xai.demo, start: () => onLoopback(createXaiEmulator({ apiKey: KEY }), (baseUrl) => xai({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "gemini", lifetimeSeconds: 60, use: "single-use", demo: gemini.demo, start: () => onLoopback(createGeminiEmulator({ apiKey: KEY }), (baseUrl) => gemini({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "elevenlabs", lifetimeSeconds: 900, use: "single-use", demo: elevenlabs.demo, start: () => onLoopback(createElevenLabsEmulator({ apiKey: KEY }), (baseUrl) => elevenlabs({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "deepgram", lifetimeSeconds: 30, use: "reusable", demo: deepgram.demo, start: () => onLoopback(createDeepgramEmulator({ apiKey: KEY }), (baseUrl) => deepgram({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "assemblyai", lifetimeSeconds: 60, use: "single-use", demo: assemblyai.demo, start: () => onLoopback(createAssemblyAIEmulator({ apiKey: KEY }), (baseUrl) => assemblyai({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "liveavatar", lifetimeSeconds: 300, use: "single-use", demo: liveavatar.demo, start: () => onLoopback(createLiveAvatarEmulator({ apiKey: KEY }), (baseUrl) => liveavatar({ apiKey: KEY, baseUrl, retry: fastRetries })) },
  { name: "livekit", lifetimeSeconds: 600, use: "reusable", demo: livekit.demo, start: async () => ({ provider: livekit({ apiKey: "APIdemo", apiSecret: "livekit-secret-that-is-long-enough-0123", url: "wss://livekit.example.test" }) }) },
];

const users: Record<string, string> = { "Bearer alice": "alice", "Bearer bob": "bob", "Bearer carol": "carol", "Bearer dave": "dave" };

describe.each(cases)("$name through the handler", (testCase) => {
  let url: string;
  let emulator: Emulator | undefined;
  let provider: Provider<any, any>;
  const ask = (user: string, body: unknown = { profile: "demo" }) =>
    fetch(url, { method: "POST", headers: { Authorization: `Bearer ${user}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });

  it("mints a token whose expiry the answer states, as the provider's sources have it", async () => {
    ({ provider, emulator } = await testCase.start());
    const handler = createTokenHandler({
      profiles: { demo: { provider, config: testCase.demo } },
      authenticate: (request) => (users[request.headers.get("Authorization") ?? ""] ? { id: users[request.headers.get("Authorization")!]! } : null),
      rateLimit: false,
      logger: capturingLogger(),
    });
    url = `${(await listen(`handler-${testCase.name}`, handler)).url}/api/session-token`;

    const response = await ask("alice");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; expiresAt: string; provider: string; profile: string };
    expect(body).toMatchObject({ provider: testCase.name, profile: "demo" });
    expect(body.token.length).toBeGreaterThan(16);
    const lifetimeSeconds = (Date.parse(body.expiresAt) - Date.now()) / 1000;
    expect(lifetimeSeconds).toBeGreaterThan(testCase.lifetimeSeconds - 10);
    expect(lifetimeSeconds).toBeLessThanOrEqual(testCase.lifetimeSeconds + 1);
    expect(tokenUseOf(provider, parseConfig(provider, testCase.demo))).toBe(testCase.use);
  });

  it(`hands the token out again as its use allows (${testCase.use})`, async () => {
    const first = ((await (await ask("bob")).json()) as { token: string }).token;
    const again = ((await (await ask("bob")).json()) as { token: string }).token;
    expect(again).toBe(first);
    const started = await fetch(`${url}/usage`, {
      method: "POST",
      headers: { Authorization: "Bearer bob", "Content-Type": "application/json" },
      body: JSON.stringify({ token: first, event: "started" }),
    });
    expect(started.status).toBe(204);
    const after = ((await (await ask("bob")).json()) as { token: string }).token;
    if (testCase.use === "single-use") expect(after).not.toBe(first);
    else expect(after).toBe(first);
  });

  it("retries what is worth retrying, and maps what is not to the right answer", async () => {
    if (!emulator) {
      // A local signer has no upstream: nothing to retry, and nothing to fail but a bad config.
      expect(provider.upstream).toBeUndefined();
      return;
    }
    const before = emulator.stats.mintRequests;
    emulator.inject({ status: 503 });
    expect((await ask("carol")).status).toBe(200);
    expect(emulator.stats.mintRequests - before).toBe(2);

    emulator.inject({ status: 400 });
    const refused = await ask("dave");
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { type: string }).type).toBe(problemType("upstream_rejected"));
    expect(emulator.stats.mintRequests - before).toBe(3);

    emulator.inject({ status: 503, retryAfter: 7 }, { status: 503, retryAfter: 7 }, { status: 503, retryAfter: 7 });
    const down = await ask("dave", { profile: "demo", clientId: "tab-2" });
    expect(down.status).toBe(503);
    expect(((await down.json()) as { type: string }).type).toBe(problemType("upstream_unavailable"));
    expect(Number(down.headers.get("Retry-After"))).toBeGreaterThan(0);
    emulator.clearFaults();
  });
});

describe("a provider reached only through a profile resolver", () => {
  it("keeps its API key out of the log and the answer when the upstream's error quotes it", async () => {
    // The handler redacts the providers it knows of up front; a resolver's are known only to themselves.
    const provider = deepgram.emulated({ apiKey: TEST_API_KEY, retry: fastRetries });
    const logger = capturingLogger();
    const handler = createTokenHandler({
      profiles: (name) => (name === "transcribe" ? { provider, config: deepgram.demo } : undefined),
      authenticate: () => ({ id: "erin" }),
      rateLimit: false,
      logger,
    });
    const url = `${(await listen("handler-resolver-only", handler)).url}/api/session-token`;
    provider.emulator.inject({ status: 401, body: JSON.stringify({ err_code: "INVALID_AUTH", err_msg: `Invalid credentials: ${TEST_API_KEY}` }) });

    const response = await fetch(url, { method: "POST", headers: { Authorization: "Bearer erin", "Content-Type": "application/json" }, body: JSON.stringify({ profile: "transcribe" }) });
    expect(response.status).toBe(502);
    expect(await response.text()).not.toContain(TEST_API_KEY);
    // The upstream's explanation is logged, its key replaced.
    expect(logger.lines.join("\n")).toContain("Deepgram answered 401: Invalid credentials: [redacted]");
    for (const line of logger.lines) expect(line).not.toContain(TEST_API_KEY);
  });
});

describe("the reuse margin", () => {
  it("is the smaller of 10 minutes and a sixth of the token's lifetime", () => {
    const minutes = (n: number) => n * 60_000;
    expect(defaultReuseMargin(30_000)).toBe(5_000);
    expect(defaultReuseMargin(minutes(59))).toBe(minutes(59) / 6);
    // The two meet at an hour: from there on the margin stays at 10 minutes.
    expect(defaultReuseMargin(minutes(60))).toBe(minutes(10));
    expect(defaultReuseMargin(minutes(60) + 6)).toBe(minutes(10));
    expect(defaultReuseMargin(minutes(60) - 6)).toBe(minutes(10) - 1);
    expect(defaultReuseMargin(minutes(6 * 60))).toBe(minutes(10));
    expect(defaultReuseMargin(0)).toBe(0);
    expect(defaultReuseMargin(-1_000)).toBe(0);
  });

  describe("through the handler, on a clock the test moves", () => {
    // Date alone is faked, before the handler is made, so that every part of it reads the one clock.
    afterEach(() => void vi.useRealTimers());

    it("hands a reusable 30 s Deepgram grant out again until 5 s before it expires, then mints a fresh one", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      const t0 = Date.now();
      const provider = deepgram.emulated({ retry: fastRetries });
      const handler = createTokenHandler({ profiles: { listen: { provider, config: { ttlSeconds: 30 } } }, authenticate: () => ({ id: "frank" }), rateLimit: false, logger: capturingLogger() });
      const ask = async () => {
        const response = await handler(new Request("http://tollgate.test/api/session-token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ profile: "listen" }) }));
        expect(response.status).toBe(200);
        return (await response.json()) as { token: string; expiresAt: string };
      };

      const first = await ask();
      expect(first.expiresAt).toBe(new Date(t0 + 30_000).toISOString());
      const started = await handler(new Request("http://tollgate.test/api/session-token/usage", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: first.token, event: "started" }) }));
      expect(started.status).toBe(204);

      vi.setSystemTime(t0 + 25_000 - 1);
      expect((await ask()).token).toBe(first.token);
      expect(provider.emulator.stats.tokensIssued).toBe(1);

      vi.setSystemTime(t0 + 25_000);
      const fresh = await ask();
      expect(fresh.token).not.toBe(first.token);
      expect(fresh.expiresAt).toBe(new Date(t0 + 25_000 + 30_000).toISOString());
      expect(provider.emulator.stats.tokensIssued).toBe(2);
    });
  });
});
