import { decodeJwt } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, type MintContext } from "../../src/provider.ts";
import {
  HANDOUT_LIFETIME_MS,
  SUCCESS_CODE,
  createLiveAvatarEmulator,
  liveavatar,
  toWireBody,
  type LiveAvatarConfigInput,
  type LiveAvatarEmulator,
} from "../../src/providers/liveavatar/index.ts";
import { closeAll, listen } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// LiveAvatar publishes no server SDK, so its web SDK's session start (SessionAPIClient.startSession
// in @heygen/liveavatar-web-sdk) is replayed as that code sends and reads it, against the emulator
// on a loopback port; our provider mints against the same emulator.

const API_KEY = "la_sk_test_8d2f41c07b9e";
const AVATAR_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a";
const VOICE_ID = "6f1d2c3b-4a5e-4f60-9a7b-8c9d0e1f2a3b";
const CONTEXT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const PLAN_MAX_SECONDS = 3600;

const CONFIG: LiveAvatarConfigInput = {
  avatarId: AVATAR_ID,
  isSandbox: true,
  videoSettings: { quality: "high", encoding: "H264" },
  avatarPersona: { voiceId: VOICE_ID, contextId: CONTEXT_ID, language: "en", voiceSettings: { provider: "elevenLabs", similarityBoost: 0.75 } },
  interactivityType: "CONVERSATIONAL",
};

let emulator: LiveAvatarEmulator;
let baseUrl: string;
beforeAll(async () => {
  emulator = createLiveAvatarEmulator({ apiKey: API_KEY, planMaxSessionSeconds: PLAN_MAX_SECONDS });
  ({ url: baseUrl } = await listen("liveavatar-emulator", emulator.fetch));
});
beforeEach(() => emulator.clearFaults());
afterAll(closeAll);

function context(overrides: Partial<MintContext> = {}): MintContext {
  return { signal: new AbortController().signal, user: { id: "alice" }, ...overrides };
}

function provider(apiKey = API_KEY) {
  return liveavatar({ apiKey, baseUrl, retry: { attempts: 1 } });
}

async function mint(config: LiveAvatarConfigInput = CONFIG, ctx: MintContext = context(), apiKey = API_KEY) {
  const p = provider(apiKey);
  return p.mint(parseConfig(p, config), ctx);
}

/** The web SDK's session start: POST {apiUrl}/v1/sessions/start, the token as bearer, success only on `code` 1000. */
async function startSession(sessionToken: string) {
  const response = await fetch(`${baseUrl}/v1/sessions/start`, {
    method: "POST",
    headers: { Authorization: `Bearer ${sessionToken}`, "Content-Type": "application/json" },
  });
  const body = (await response.json()) as { code: number; message?: string; data?: Record<string, unknown> | null };
  return { response, body, ok: response.ok && body.code === SUCCESS_CODE };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describe("minting against the emulator", () => {
  it("gets a token and its session id, which the web SDK's session start accepts once", async () => {
    const before = Date.now();
    const minted = await mint();
    expect(minted.status).toBe(200);
    expect(minted.token.split(".")).toHaveLength(3);
    expect(minted.extra?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The emulator's token carries an hour's `exp`; the hand-out lifetime is the shorter.
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + HANDOUT_LIFETIME_MS);
    expect(minted.expiresAt).toBeLessThanOrEqual(Date.now() + HANDOUT_LIFETIME_MS);

    const started = await startSession(minted.token);
    expect(started.response.status).toBe(201);
    expect(started.ok).toBe(true);
    expect(started.body.data).toMatchObject({ session_id: minted.extra?.sessionId, livekit_url: expect.stringMatching(/^wss?:\/\//), max_session_duration: null });
    expect(String(started.body.data?.livekit_client_token).split(".")).toHaveLength(3);

    const again = await startSession(minted.token);
    expect(again.response.status).toBe(401);
    expect(again.ok).toBe(false);
    expect(again.body).toMatchObject({ message: "Session token has already been used" });
    expect(emulator.stats.sessionsStarted).toBeGreaterThanOrEqual(1);
  });

  it("takes the token's own exp when it comes before the hand-out lifetime", async () => {
    const shortLived = createLiveAvatarEmulator({ apiKey: API_KEY, tokenLifetimeSeconds: 60 });
    const { url } = await listen("liveavatar-emulator", shortLived.fetch);
    const p = liveavatar({ apiKey: API_KEY, baseUrl: url });
    const minted = await p.mint(parseConfig(p, CONFIG), context());
    expect(minted.expiresAt).toBe(decodeJwt(minted.token).exp! * 1000);
    expect(minted.expiresAt).toBeLessThan(Date.now() + HANDOUT_LIFETIME_MS);
  });

  it("sends maxSessionSeconds as max_session_duration, lowering the config's but never raising it", async () => {
    const sessionLength = async (config: LiveAvatarConfigInput, maxSessionSeconds?: number) => {
      const minted = await mint(config, context({ maxSessionSeconds }));
      return (await startSession(minted.token)).body.data?.max_session_duration;
    };
    expect(await sessionLength({ ...CONFIG, maxSessionDuration: 1800 }, 600)).toBe(600);
    expect(await sessionLength({ ...CONFIG, maxSessionDuration: 300 }, 600)).toBe(300);
    expect(await sessionLength(CONFIG, 900)).toBe(900);
    expect(await sessionLength(CONFIG)).toBeNull();
  });

  it("leaves a config without its own duration to the plan's limit at a ceiling of an hour or more, which the plan may not allow", async () => {
    const sessionLength = async (maxSessionSeconds: number) => (await startSession((await mint(CONFIG, context({ maxSessionSeconds }))).token)).body.data?.max_session_duration;
    expect(await sessionLength(3599)).toBe(3599);
    expect(await sessionLength(3600)).toBeNull();
    expect(await sessionLength(7200)).toBeNull();
  });

  it("sends the wire's snake_case, keeping the app's placeholder names as they are", () => {
    const p = provider();
    const body = toWireBody(
      parseConfig(p, {
        avatarId: AVATAR_ID,
        voiceAgent: { id: VOICE_ID, dynamicVariables: { customerName: "Ada" } },
        dynamicVariables: { orderId: "42" },
        memory: { prevSessionId: CONTEXT_ID },
      }),
    );
    expect(body).toEqual({
      avatar_id: AVATAR_ID,
      mode: "FULL",
      voice_agent: { id: VOICE_ID, dynamic_variables: { customerName: "Ada" } },
      dynamic_variables: { orderId: "42" },
      memory: { prev_session_id: CONTEXT_ID },
    });
    expect(toWireBody(parseConfig(p, CONFIG))).toMatchObject({ avatar_persona: { voice_id: VOICE_ID, voice_settings: { provider: "elevenLabs", similarity_boost: 0.75 } } });
  });

  it("the demo profile: a single-use token handed out for 5 min", async () => {
    const { lifetimeSeconds, use } = await demoToken(liveavatar.emulated(), liveavatar.demo);
    expect(use).toBe("single-use");
    expect(lifetimeSeconds).toBeCloseTo(300, -1);
  });

  it("works in process through liveavatar.emulated(), with the demo config", async () => {
    const p = liveavatar.emulated();
    const minted = await p.mint(parseConfig(p, liveavatar.demo), context());
    expect(minted.extra?.sessionId).toBeTypeOf("string");
    expect(p.emulator?.stats.tokensIssued).toBe(1);
  });
});

describe("the emulator's refusals, and how they are classified", () => {
  it("refuses a wrong API key with 401, not retried, and the key in no message", async () => {
    const wrongKey = "la_sk_wrong_5e6f7a8b9c0d";
    const p = provider(wrongKey);
    const error = await failure(p.mint(parseConfig(p, CONFIG), context()));
    expect(error.upstreamStatus).toBe(401);
    expect(error.message).toContain("Invalid API key");
    expect(p.upstream.classify(error)).toMatchObject({ retryable: false, errorType: "401" });
    expect(error.message).not.toContain(wrongKey);
    expect(p.redact(`calling with ${wrongKey}`)).toBe("calling with [redacted]");
  });

  it("refuses a session longer than the plan allows with 422, naming the field, not retried", async () => {
    const p = provider();
    const error = await failure(p.mint(parseConfig(p, { ...CONFIG, maxSessionDuration: PLAN_MAX_SECONDS + 1 }), context()));
    expect(error.upstreamStatus).toBe(422);
    expect(error.message).toContain("body.max_session_duration");
    expect(p.upstream.classify(error).retryable).toBe(false);
  });

  it("refuses a body in camelCase, the shape the wire does not take", async () => {
    const response = await fetch(`${baseUrl}/v1/sessions/token`, {
      method: "POST",
      headers: { "X-API-KEY": API_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ avatarId: AVATAR_ID, mode: "FULL" }),
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { code: number; data: Array<{ loc: string[] }> };
    expect(body.code).not.toBe(SUCCESS_CODE);
    expect(body.data.map((problem) => problem.loc.join("."))).toEqual(expect.arrayContaining(["body.avatarId", "body.avatar_id"]));
  });

  it("refuses a start with a token it never signed", async () => {
    const started = await startSession("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl");
    expect(started.response.status).toBe(401);
    expect(started.ok).toBe(false);
  });

  it("passes on an injected 503's Retry-After as retryable", async () => {
    const p = provider();
    emulator.inject({ status: 503, retryAfter: 7 });
    const error = await failure(p.mint(parseConfig(p, CONFIG), context()));
    expect(error.upstreamStatus).toBe(503);
    expect(p.upstream.classify(error)).toEqual({ retryable: true, retryAfterMs: 7000, errorType: "503" });
  });

  it("calls an injected 429 retryable", async () => {
    const p = provider();
    emulator.inject({ status: 429 });
    expect(p.upstream.classify(await failure(p.mint(parseConfig(p, CONFIG), context())))).toMatchObject({ retryable: true, errorType: "429" });
  });
});

describe("config schema and construction", () => {
  it("refuses a typo'd field with a message naming it", () => {
    const p = provider();
    expect(() => parseConfig(p, { ...CONFIG, avatarID: AVATAR_ID })).toThrow(ValidationError);
    expect(() => parseConfig(p, { ...CONFIG, avatarID: AVATAR_ID })).toThrow(/avatarID/);
    expect(() => parseConfig(p, { ...CONFIG, avatarPersona: { voiceID: VOICE_ID } })).toThrow(/avatarPersona\.voiceID/);
  });

  it("refuses avatarPersona with voiceAgent, a mode other than FULL, and a non-integer duration", () => {
    const p = provider();
    expect(() => parseConfig(p, { ...CONFIG, voiceAgent: { id: VOICE_ID } })).toThrow(/mutually exclusive/);
    expect(() => parseConfig(p, { ...CONFIG, mode: "LITE" })).toThrow(/mode/);
    expect(() => parseConfig(p, { ...CONFIG, maxSessionDuration: 1.5 })).toThrow(/maxSessionDuration/);
  });

  it("is single-use and is made from LIVEAVATAR_API_KEY and LIVEAVATAR_BASE_URL", () => {
    expect(provider().tokenUse).toBe("single-use");
    expect(liveavatar.fromEnv({})).toBeUndefined();
    const fromEnv = liveavatar.fromEnv({ LIVEAVATAR_API_KEY: API_KEY, LIVEAVATAR_BASE_URL: baseUrl });
    expect(fromEnv?.upstream.endpoint.href).toBe(`${baseUrl}/v1/sessions/token`);
    expect(liveavatar.fromEnv({ LIVEAVATAR_API_KEY: API_KEY })?.upstream.endpoint.href).toBe("https://api.liveavatar.com/v1/sessions/token");
  });
});
