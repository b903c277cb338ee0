import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { createTokenHandler, defaultReuseMargin, defineProvider, parseConfig, problemType, tokenUseOf, type Provider, type TokenUse } from "../../src/index.ts";
import { deepgram } from "../../src/providers/deepgram/index.ts";
import type { Emulator } from "../../src/providers/emulator.ts";
import type { HttpProviderOptions } from "../../src/providers/http.ts";
import { PROVIDERS, type ProviderEntry } from "../../server/providers.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen } from "../support/servers.ts";

// Every provider the standalone server knows (server/providers.ts, the one list), through the same
// handler over real loopback HTTP: the token and its expiry in the answer, reuse that follows the
// token's use, retries by failure class, and the error mapping. What each provider's demo token is
// (its lifetime, its use) is held to the provider's sources in its own test file.

afterAll(closeAll);

const KEY = "provider_key_3b9f2c7e1a6d4058";
const fastRetries = { baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 2_000, deadlineMs: 5_000 };

const cases = Object.entries(PROVIDERS).map(([name, entry]) => ({ name, entry }));

/**
 * The provider pointed at its own emulator on a loopback port, with quick retries: an HTTP
 * provider's factory takes the same options whatever the provider. A local signer (LiveKit) has no
 * upstream, so its `emulated()` is used as it is.
 */
async function start(entry: ProviderEntry): Promise<{ provider: Provider<any, any>; emulator?: Emulator }> {
  const emulated = (entry.emulated as (options: { apiKey: string }) => Provider<any, any> & { emulator?: Emulator })({ apiKey: KEY });
  if (!emulated.upstream) return { provider: emulated };
  const server = await listen("provider-emulator", emulated.emulator!.fetch);
  const factory = entry as unknown as (options: HttpProviderOptions) => Provider<any, any>;
  return { provider: factory({ apiKey: KEY, baseUrl: server.url, retry: fastRetries }), emulator: emulated.emulator };
}

const users: Record<string, string> = { "Bearer alice": "alice", "Bearer bob": "bob", "Bearer carol": "carol", "Bearer dave": "dave" };

describe.each(cases)("$name through the handler", (testCase) => {
  let url: string;
  let emulator: Emulator | undefined;
  let provider: Provider<any, any>;
  let use: TokenUse;
  const ask = (user: string, body: unknown = { profile: "demo" }) =>
    fetch(url, { method: "POST", headers: { Authorization: `Bearer ${user}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });

  it("mints a token whose expiry the answer states, as the provider gives it", async () => {
    ({ provider, emulator } = await start(testCase.entry));
    const config = parseConfig(provider, testCase.entry.demo);
    use = tokenUseOf(provider, config);
    const direct = await provider.mint(config, { signal: AbortSignal.timeout(5_000), user: { id: "probe" } });
    const lifetimeFromProvider = (direct.expiresAt - Date.now()) / 1000;
    const handler = createTokenHandler({
      profiles: { demo: { provider, config: testCase.entry.demo } },
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
    expect(lifetimeSeconds).toBeGreaterThan(lifetimeFromProvider - 10);
    expect(lifetimeSeconds).toBeLessThanOrEqual(lifetimeFromProvider + 1);
  });

  it("hands the token out again as its use allows", async () => {
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
    if (use === "single-use") expect(after).not.toBe(first);
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

describe("defineProvider", () => {
  it("refuses an enforcesSessionCeiling that is not a function of the config, naming it", () => {
    const base = deepgram({ apiKey: KEY });
    expect(() => defineProvider({ ...base, enforcesSessionCeiling: { minSeconds: 1 } as never })).toThrow(/provider "deepgram": enforcesSessionCeiling: must be a function of the config/);
    expect(defineProvider({ ...base, enforcesSessionCeiling: () => ({ minSeconds: 5 }) }).enforcesSessionCeiling?.({ ttlSeconds: 30 })).toEqual({ minSeconds: 5 });
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
