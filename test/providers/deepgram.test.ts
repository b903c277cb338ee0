import { Deepgram, DeepgramClient, DeepgramError } from "@deepgram/sdk";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidUpstreamResponse, OptionError, UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, tokenUseOf, type MintContext } from "../../src/provider.ts";
import { createDeepgramEmulator, deepgram, type DeepgramConfig, type DeepgramEmulator } from "../../src/providers/deepgram/index.ts";
import { listen, type Listening } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// Deepgram's own SDK and our provider both grant tokens from the emulator on a loopback port, so the
// emulator is held to what the SDK sends and reads, and our provider to what the emulator checks.

const API_KEY = "dg_test_9a7c1e5b3d2f4a6c8e0b";
const FORBIDDEN_KEY = "dg_test_viewer_only_5e3c1a";

let emulator: DeepgramEmulator;
let server: Listening;

beforeAll(async () => {
  emulator = createDeepgramEmulator({ apiKey: API_KEY, forbiddenKeys: [FORBIDDEN_KEY] });
  server = await listen("deepgram-emulator", emulator.fetch);
});
afterAll(() => server.close());
beforeEach(() => emulator.clearFaults());

function context(extra: Partial<MintContext> = {}): MintContext {
  return { signal: new AbortController().signal, user: { id: "user-1" }, ...extra };
}

/** The SDK with its own retries off, so each refusal is the emulator's first answer. */
function sdk(apiKey = API_KEY) {
  return new DeepgramClient({ apiKey, baseUrl: server.url, maxRetries: 0 });
}

/** What `promise` rejected with; fails the test when it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

describe("@deepgram/sdk against the emulator", () => {
  it("grants a JWT for the TTL asked, and the SDK reads access_token and expires_in", async () => {
    const grant = await sdk().auth.v1.tokens.grant({ ttl_seconds: 120 });
    expect(grant.expires_in).toBe(120);
    const claims = decodeJwt(grant.access_token);
    expect(claims.exp! - claims.iat!).toBe(120);
    // The permission the SDK's doc comment of grant() names: "usage::write", with two colons.
    expect(claims.scopes).toEqual(["usage::write"]);
  });

  it("grants the default 30 seconds when the SDK sends no TTL", async () => {
    const grant = await sdk().auth.v1.tokens.grant();
    expect(grant.expires_in).toBe(30);
  });

  it("refuses a bad key with Deepgram's INVALID_AUTH body, which the SDK hands over", async () => {
    const error = await rejection(sdk("dg_wrong_key").auth.v1.tokens.grant());
    expect(error).toBeInstanceOf(DeepgramError);
    expect((error as DeepgramError).statusCode).toBe(401);
    expect((error as DeepgramError).body).toMatchObject({ err_code: "INVALID_AUTH", err_msg: "Invalid credentials.", request_id: expect.any(String) });
  });

  it("refuses a key without permission with 403 FORBIDDEN", async () => {
    const error = (await rejection(sdk(FORBIDDEN_KEY).auth.v1.tokens.grant())) as DeepgramError;
    expect(error.statusCode).toBe(403);
    expect(error.body).toMatchObject({ err_code: "FORBIDDEN" });
  });

  it.each([0, 3601, -5])("refuses ttl_seconds %s with a 400 the SDK reads as BadRequestError", async (ttl) => {
    const error = await rejection(sdk().auth.v1.tokens.grant({ ttl_seconds: ttl }));
    expect(error).toBeInstanceOf(Deepgram.BadRequestError);
    expect((error as Deepgram.BadRequestError).statusCode).toBe(400);
    expect((error as Deepgram.BadRequestError).body).toMatchObject({ err_msg: expect.stringContaining("ttl_seconds") });
  });
});

describe("deepgram provider", () => {
  const provider = () => deepgram({ apiKey: API_KEY, baseUrl: server.url });

  it("mints over loopback: the TTL goes upstream and the expiry comes from expires_in", async () => {
    const issuedBefore = emulator.stats.tokensIssued;
    const before = Date.now();
    const minted = await provider().mint(parseConfig(provider(), { ttlSeconds: 600 }), context());
    const after = Date.now();

    expect(emulator.stats.tokensIssued).toBe(issuedBefore + 1);
    expect(minted.status).toBe(200);
    const claims = decodeJwt(minted.token);
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(minted.expiresAt).toBeLessThanOrEqual(after + 600_000);
    expect(minted.extra).toBeUndefined();
  });

  it("asks for Deepgram's 30 seconds when the profile names no TTL, and has no session cap to lower", async () => {
    const minted = await provider().mint(parseConfig(provider(), {}), context({ maxSessionSeconds: 10 }));
    const claims = decodeJwt(minted.token);
    expect(claims.exp! - claims.iat!).toBe(30);
  });

  it("is reusable until expiry, with the default reuse margin", () => {
    const p = provider();
    expect(tokenUseOf(p, parseConfig(p, {}))).toBe("reusable");
    expect(p.reuseMarginMs).toBeUndefined();
    expect(p.upstream.method).toBe("POST");
    expect(p.upstream.endpoint.href).toBe(`${server.url}/v1/auth/grant`);
  });

  it("classifies a bad key and a missing permission as final, and names neither key", async () => {
    for (const [apiKey, status] of [
      ["dg_wrong_key_1b2c3d4e5f", 401],
      [FORBIDDEN_KEY, 403],
    ] as const) {
      const p = deepgram({ apiKey, baseUrl: server.url });
      const error = await rejection(p.mint(parseConfig(p, {}), context()));
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).upstreamStatus).toBe(status);
      expect(p.upstream.classify(error)).toEqual({ retryable: false, errorType: String(status), retryAfterMs: undefined });
      expect((error as Error).message).not.toContain(apiKey);
    }
  });

  it("classifies an out-of-range TTL that slipped past the schema as a final 400", async () => {
    const p = provider();
    const error = await rejection(p.mint({ ttlSeconds: 5000 } satisfies DeepgramConfig, context()));
    expect((error as UpstreamError).upstreamStatus).toBe(400);
    expect((error as Error).message).toContain("ttl_seconds");
    expect(p.upstream.classify(error).retryable).toBe(false);
  });

  it("retries an injected 429 after its Retry-After, and a 503 without one", async () => {
    const p = provider();
    emulator.inject({ status: 429, retryAfter: 7 }, { status: 503 });
    const limited = await rejection(p.mint(parseConfig(p, {}), context()));
    expect(p.upstream.classify(limited)).toEqual({ retryable: true, retryAfterMs: 7000, errorType: "429" });
    expect((limited as Error).message).toBe("Deepgram answered 429: Emulated fault 429");
    const down = await rejection(p.mint(parseConfig(p, {}), context()));
    expect(p.upstream.classify(down)).toMatchObject({ retryable: true, errorType: "503" });
    await expect(p.mint(parseConfig(p, {}), context())).resolves.toMatchObject({ status: 200 });
  });

  it("treats a 200 without an access_token, or with an expired grant, as no usable token", async () => {
    const p = provider();
    emulator.inject({ status: 200, body: '{"expires_in":30}' }, { status: 200, body: '{"access_token":"eyJ.x.y","expires_in":0}' });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await rejection(p.mint(parseConfig(p, {}), context()));
      expect(error).toBeInstanceOf(InvalidUpstreamResponse);
      expect(p.upstream.classify(error)).toEqual({ retryable: false, errorType: "invalid_response" });
    }
  });

  it("redacts the key from any text headed for a log, even an upstream that echoes it", async () => {
    const p = provider();
    emulator.inject({ status: 401, body: JSON.stringify({ err_code: "INVALID_AUTH", err_msg: `Invalid credentials: Token ${API_KEY}` }) });
    const error = (await rejection(p.mint(parseConfig(p, {}), context()))) as Error;
    expect(p.redact(error.message)).not.toContain(API_KEY);
    expect(p.redact(error.message)).toContain("[redacted]");
  });
});

describe("deepgram config schema", () => {
  const p = deepgram({ apiKey: API_KEY });

  it("refuses a misspelt field, naming it", () => {
    expect(() => parseConfig(p, { ttlSecond: 60 })).toThrow(ValidationError);
    expect(() => parseConfig(p, { ttlSecond: 60 })).toThrow(/ttlSecond/);
  });

  it.each([0, 3601, 1.5, "60"])("refuses ttlSeconds %s", (ttlSeconds) => {
    expect(() => parseConfig(p, { ttlSeconds })).toThrow(/ttlSeconds/);
  });

  it("takes 1 and 3600, the ends of Deepgram's range", () => {
    expect(parseConfig(p, { ttlSeconds: 1 })).toEqual({ ttlSeconds: 1 });
    expect(parseConfig(p, { ttlSeconds: 3600 })).toEqual({ ttlSeconds: 3600 });
  });
});

describe("deepgram.emulated, .demo and .fromEnv", () => {
  it("the demo profile: a reusable grant of Deepgram's default 30 s", async () => {
    const { lifetimeSeconds, use } = await demoToken(deepgram.emulated(), deepgram.demo);
    expect(use).toBe("reusable");
    expect(lifetimeSeconds).toBeCloseTo(30, -1);
  });

  it("mints the demo profile on an in-process emulator", async () => {
    const p = deepgram.emulated();
    const minted = await p.mint(parseConfig(p, deepgram.demo), context());
    expect(decodeJwt(minted.token).exp).toBeGreaterThan(Date.now() / 1000);
    expect(p.emulator!.stats.tokensIssued).toBe(1);
  });

  it("builds the provider from DEEPGRAM_API_KEY and DEEPGRAM_BASE_URL, or nothing without a key", async () => {
    expect(deepgram.fromEnv({})).toBeUndefined();
    expect(deepgram.fromEnv({ DEEPGRAM_API_KEY: "" })).toBeUndefined();
    expect(deepgram.fromEnv({ DEEPGRAM_API_KEY: API_KEY })!.upstream.endpoint.href).toBe("https://api.deepgram.com/v1/auth/grant");
    const p = deepgram.fromEnv({ DEEPGRAM_API_KEY: API_KEY, DEEPGRAM_BASE_URL: server.url })!;
    await expect(p.mint(parseConfig(p, {}), context())).resolves.toMatchObject({ status: 200 });
  });

  it("names the variable when DEEPGRAM_BASE_URL is no URL, without repeating it", () => {
    const attempt = () => deepgram.fromEnv({ DEEPGRAM_API_KEY: API_KEY, DEEPGRAM_BASE_URL: "https://user:secret@api.deepgram.com" });
    expect(attempt).toThrow(OptionError);
    expect(attempt).toThrow(/DEEPGRAM_BASE_URL/);
    expect(attempt).not.toThrow(/secret/);
  });
});
