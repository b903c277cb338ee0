import { AssemblyAI } from "assemblyai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidUpstreamResponse, OptionError, UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, tokenUseOf, type MintContext } from "../../src/provider.ts";
import { assemblyai, createAssemblyAIEmulator, sessionDuration, type AssemblyAIConfig, type AssemblyAIEmulator } from "../../src/providers/assemblyai/index.ts";
import { inProcessFetch } from "../../src/providers/emulator.ts";
import { listen, type Listening } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// AssemblyAI's own SDK and our provider both mint streaming tokens from the emulator on a loopback
// port, so the emulator is held to what the SDK sends and reads, and our provider to what the
// emulator checks. Opening a stream is stood in for by `GET /v3/ws?token=`, which spends the token.

const API_KEY = "aai_test_3b8e1f6a0c4d7e2b9f5a";

let emulator: AssemblyAIEmulator;
let server: Listening;

beforeAll(async () => {
  emulator = createAssemblyAIEmulator({ apiKey: API_KEY });
  server = await listen("assemblyai-emulator", emulator.fetch);
});
afterAll(() => server.close());
beforeEach(() => emulator.clearFaults());

function context(extra: Partial<MintContext> = {}): MintContext {
  return { signal: new AbortController().signal, user: { id: "user-1" }, ...extra };
}

function sdk(apiKey = API_KEY) {
  return new AssemblyAI({ apiKey, streamingBaseUrl: server.url });
}

interface Begin {
  type: string;
  expires_at: number;
}

/** Opens a stream with `token` as the browser would, and gives the status and what the stream said first. */
async function openStream(token: string): Promise<{ status: number; body: Begin & { error?: string; code?: number } }> {
  const response = await fetch(`${server.url}/v3/ws?token=${encodeURIComponent(token)}`);
  return { status: response.status, body: await response.json() };
}

/** Seconds from now until the session that `begin` started must end. */
function sessionSeconds(begin: Begin): number {
  return begin.expires_at - Math.floor(Date.now() / 1000);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

describe("assemblyai SDK against the emulator", () => {
  it("gets a temporary token that opens one stream, capped at the duration asked", async () => {
    const token = await sdk().streaming.createTemporaryToken({ expires_in_seconds: 60, max_session_duration_seconds: 600 });
    expect(typeof token).toBe("string");
    const first = await openStream(token);
    expect(first.status).toBe(200);
    expect(first.body.type).toBe("Begin");
    expect(sessionSeconds(first.body)).toBeGreaterThan(590);
    expect(sessionSeconds(first.body)).toBeLessThanOrEqual(600);
    const again = await openStream(token);
    expect(again).toEqual({ status: 401, body: { error: "Temporary token has already been used", code: 4001 } });
  });

  it("surfaces the emulator's { error } text as the SDK's error message for a bad key", async () => {
    const error = await rejection(sdk("aai_wrong_key").streaming.createTemporaryToken({ expires_in_seconds: 60 }));
    expect((error as Error).message).toBe("Authentication error, API token missing/invalid");
  });

  it.each([
    [{ expires_in_seconds: 0 }, "expires_in_seconds"],
    [{ expires_in_seconds: 601 }, "expires_in_seconds"],
    [{ expires_in_seconds: 60, max_session_duration_seconds: 59 }, "max_session_duration_seconds"],
    [{ expires_in_seconds: 60, max_session_duration_seconds: 10_801 }, "max_session_duration_seconds"],
  ])("refuses %o with a 400 that names %s", async (params, field) => {
    const error = await rejection(sdk().streaming.createTemporaryToken(params));
    expect((error as Error).message).toContain(field);
  });

  it("refuses a request without expires_in_seconds, which the latest reference requires", async () => {
    const params = {} as { expires_in_seconds: number };
    const error = await rejection(sdk().streaming.createTemporaryToken(params));
    expect((error as Error).message).toContain("expires_in_seconds is required");
  });
});

describe("assemblyai provider", () => {
  const provider = () => assemblyai({ apiKey: API_KEY, baseUrl: server.url });

  it("mints over loopback: a single-use token, its window as the expiry, and where to open the stream", async () => {
    const p = provider();
    const before = Date.now();
    const minted = await p.mint(parseConfig(p, { expiresInSeconds: 120 }), context());
    const after = Date.now();

    expect(minted.status).toBe(200);
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(minted.expiresAt).toBeLessThanOrEqual(after + 120_000);
    expect(minted.extra).toEqual({ websocketUrl: `${server.url.replace(/^http:/, "ws:")}/v3/ws` });
    expect(tokenUseOf(p, parseConfig(p, {}))).toBe("single-use");

    const begin = await openStream(minted.token);
    expect(begin.status).toBe(200);
    // No cap from the profile or the app: AssemblyAI's own three hours.
    expect(sessionSeconds(begin.body)).toBeGreaterThan(10_790);
    expect((await openStream(minted.token)).status).toBe(401);
  });

  it("asks for a 60-second window when the profile names none", async () => {
    const p = provider();
    const before = Date.now();
    const minted = await p.mint(parseConfig(p, {}), context());
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(minted.expiresAt).toBeLessThan(before + 120_000);
  });

  it("lowers the profile's session cap to the app's longest session, and sends it upstream", async () => {
    const p = provider();
    const minted = await p.mint(parseConfig(p, { maxSessionDurationSeconds: 1800 }), context({ maxSessionSeconds: 900 }));
    const { body } = await openStream(minted.token);
    expect(sessionSeconds(body)).toBeGreaterThan(890);
    expect(sessionSeconds(body)).toBeLessThanOrEqual(900);
  });

  it("sends an app ceiling under a minute as 60 seconds, the least AssemblyAI accepts", async () => {
    const p = provider();
    const minted = await p.mint(parseConfig(p, {}), context({ maxSessionSeconds: 20 }));
    const { status, body } = await openStream(minted.token);
    expect(status).toBe(200);
    expect(sessionSeconds(body)).toBeGreaterThan(50);
    expect(sessionSeconds(body)).toBeLessThanOrEqual(60);
  });

  it("never raises the profile's cap, and rounds a fractional ceiling down", () => {
    expect(sessionDuration({ maxSessionDurationSeconds: 600 }, { maxSessionSeconds: 3600 })).toBe(600);
    expect(sessionDuration({ maxSessionDurationSeconds: 600 }, {})).toBe(600);
    expect(sessionDuration({}, {})).toBeUndefined();
    expect(sessionDuration({}, { maxSessionSeconds: 3600 })).toBe(3600);
    expect(sessionDuration({}, { maxSessionSeconds: 120.9 })).toBe(120);
    expect(sessionDuration({ maxSessionDurationSeconds: 120 }, { maxSessionSeconds: 30 })).toBe(60);
  });

  it("classifies a bad key as final, without naming it", async () => {
    const wrongKey = "aai_wrong_key_7c2e9a4f1b";
    const p = assemblyai({ apiKey: wrongKey, baseUrl: server.url });
    const error = await rejection(p.mint(parseConfig(p, {}), context()));
    expect((error as UpstreamError).upstreamStatus).toBe(401);
    expect(p.upstream.classify(error)).toEqual({ retryable: false, errorType: "401", retryAfterMs: undefined });
    expect((error as Error).message).toBe("AssemblyAI answered 401: Authentication error, API token missing/invalid");
    expect((error as Error).message).not.toContain(wrongKey);
  });

  it("classifies an out-of-range window that slipped past the schema as a final 400", async () => {
    const p = provider();
    const error = await rejection(p.mint({ expiresInSeconds: 900 } satisfies AssemblyAIConfig, context()));
    expect((error as UpstreamError).upstreamStatus).toBe(400);
    expect((error as Error).message).toContain("expires_in_seconds");
    expect(p.upstream.classify(error).retryable).toBe(false);
  });

  it("retries an injected 429 after its Retry-After, and a 500 without one", async () => {
    const p = provider();
    emulator.inject({ status: 429, retryAfter: 3 }, { status: 500 });
    const limited = await rejection(p.mint(parseConfig(p, {}), context()));
    expect(p.upstream.classify(limited)).toEqual({ retryable: true, retryAfterMs: 3000, errorType: "429" });
    expect((limited as Error).message).toBe("AssemblyAI answered 429: Emulated fault 429");
    const down = await rejection(p.mint(parseConfig(p, {}), context()));
    expect(p.upstream.classify(down)).toMatchObject({ retryable: true, errorType: "500" });
    await expect(p.mint(parseConfig(p, {}), context())).resolves.toMatchObject({ status: 200 });
  });

  it("treats a 200 without a token, or with an expired one, as no usable token", async () => {
    const p = provider();
    emulator.inject({ status: 200, body: '{"expires_in_seconds":60}' }, { status: 200, body: '{"token":"abc","expires_in_seconds":0}' });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await rejection(p.mint(parseConfig(p, {}), context()));
      expect(error).toBeInstanceOf(InvalidUpstreamResponse);
      expect(p.upstream.classify(error).retryable).toBe(false);
    }
  });

  it("takes the requested window as the expiry when the answer has only { token }, as the SDK's type does", async () => {
    const p = provider();
    emulator.inject({ status: 200, body: '{"token":"only-a-token"}' });
    const before = Date.now();
    const minted = await p.mint(parseConfig(p, { expiresInSeconds: 300 }), context());
    expect(minted.token).toBe("only-a-token");
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + 300_000);
  });

  it("redacts the key from any text headed for a log, even an upstream that echoes it", async () => {
    const p = provider();
    emulator.inject({ status: 401, body: JSON.stringify({ error: `Invalid API key ${API_KEY}` }) });
    const error = (await rejection(p.mint(parseConfig(p, {}), context()))) as Error;
    expect(p.redact(error.message)).toBe("AssemblyAI answered 401: Invalid API key [redacted]");
  });
});

describe("assemblyai config schema", () => {
  const p = assemblyai({ apiKey: API_KEY });

  it("refuses a misspelt field, naming it", () => {
    expect(() => parseConfig(p, { expiresInSecond: 60 })).toThrow(ValidationError);
    expect(() => parseConfig(p, { expiresInSecond: 60 })).toThrow(/expiresInSecond/);
  });

  it.each([
    { expiresInSeconds: 0 },
    { expiresInSeconds: 601 },
    { expiresInSeconds: 30.5 },
    { maxSessionDurationSeconds: 59 },
    { maxSessionDurationSeconds: 10_801 },
  ])("refuses %o, naming the field", (config) => {
    expect(() => parseConfig(p, config)).toThrow(new RegExp(Object.keys(config)[0]!));
  });

  it("takes the ends of AssemblyAI's ranges", () => {
    expect(parseConfig(p, { expiresInSeconds: 600, maxSessionDurationSeconds: 60 })).toEqual({ expiresInSeconds: 600, maxSessionDurationSeconds: 60 });
    expect(parseConfig(p, { expiresInSeconds: 1, maxSessionDurationSeconds: 10_800 })).toEqual({ expiresInSeconds: 1, maxSessionDurationSeconds: 10_800 });
  });
});

describe("assemblyai options, .emulated, .demo and .fromEnv", () => {
  it("calls AssemblyAI's own host by default, and sends the browser to its wss stream URL", async () => {
    // The default base URL, with every request answered in this process: nothing leaves the machine.
    const p = assemblyai({ apiKey: API_KEY, fetch: inProcessFetch(createAssemblyAIEmulator({ apiKey: API_KEY })) });
    expect(p.upstream.endpoint.href).toBe("https://streaming.assemblyai.com/v3/token");
    expect(p.upstream.method).toBe("GET");
    const minted = await p.mint(parseConfig(p, {}), context());
    expect(minted.extra).toEqual({ websocketUrl: "wss://streaming.assemblyai.com/v3/ws" });
  });

  it("refuses a websocketUrl that is no ws(s) URL or carries credentials, naming the option", () => {
    expect(() => assemblyai({ apiKey: API_KEY, websocketUrl: "https://streaming.assemblyai.com/v3/ws" })).toThrow(/websocketUrl/);
    expect(() => assemblyai({ apiKey: API_KEY, websocketUrl: "wss://user:pw@streaming.assemblyai.com/v3/ws" })).toThrow(OptionError);
  });

  it("sends the configured websocketUrl to the browser", async () => {
    const p = assemblyai.emulated({ websocketUrl: "wss://streaming.eu.assemblyai.com/v3/ws" });
    const minted = await p.mint(parseConfig(p, assemblyai.demo), context());
    expect(minted.extra).toEqual({ websocketUrl: "wss://streaming.eu.assemblyai.com/v3/ws" });
  });

  it("the demo profile: a single-use token that opens its stream within 60 s", async () => {
    const { lifetimeSeconds, use } = await demoToken(assemblyai.emulated(), assemblyai.demo);
    expect(use).toBe("single-use");
    expect(lifetimeSeconds).toBeCloseTo(60, -1);
  });

  it("mints the demo profile on an in-process emulator", async () => {
    const p = assemblyai.emulated();
    const minted = await p.mint(parseConfig(p, assemblyai.demo), context());
    expect(minted.token).toMatch(/^[0-9a-f]{64}$/);
    expect(p.emulator!.stats.tokensIssued).toBe(1);
  });

  it("builds the provider from ASSEMBLYAI_API_KEY and ASSEMBLYAI_BASE_URL, or nothing without a key", async () => {
    expect(assemblyai.fromEnv({})).toBeUndefined();
    expect(assemblyai.fromEnv({ ASSEMBLYAI_API_KEY: "" })).toBeUndefined();
    const p = assemblyai.fromEnv({ ASSEMBLYAI_API_KEY: API_KEY, ASSEMBLYAI_BASE_URL: server.url })!;
    await expect(p.mint(parseConfig(p, {}), context())).resolves.toMatchObject({ status: 200 });
    expect(() => assemblyai.fromEnv({ ASSEMBLYAI_API_KEY: API_KEY, ASSEMBLYAI_BASE_URL: "not a url" })).toThrow(/ASSEMBLYAI_BASE_URL/);
  });
});
