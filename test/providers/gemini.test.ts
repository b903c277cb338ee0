import { ApiError, GoogleGenAI, type CreateAuthTokenConfig } from "@google/genai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidUpstreamResponse, UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, tokenUseOf, type MintContext } from "../../src/provider.ts";
import { createGeminiEmulator, gemini, type GeminiConfigInput, type GeminiEmulator } from "../../src/providers/gemini/index.ts";
import { SESSION_PATH } from "../../src/providers/gemini/emulator.ts";
import { createTokenHandler } from "../../src/index.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// Gemini's ephemeral tokens: @google/genai and our provider against the same emulator on loopback,
// the emulator held to what the SDK sends, and our provider held to what the SDK would send.

const WRONG_KEY = "AIzaSyWrongKeyForTheGeminiEmulator00";

interface Received {
  apiKey: string | null;
  body: Record<string, unknown>;
}

let emulator: GeminiEmulator;
let baseUrl: string;
/** How far the emulator's clock runs ahead of ours, to see a token's window close. */
let skewMs = 0;
const received: Received[] = [];

beforeAll(async () => {
  emulator = createGeminiEmulator({ apiKey: TEST_API_KEY, now: () => Date.now() + skewMs });
  const server = await listen("gemini-emulator", async (request) => {
    if (request.method === "POST") {
      const body = (await request.clone().json().catch(() => undefined)) as Record<string, unknown>;
      received.push({ apiKey: request.headers.get("x-goog-api-key"), body });
    }
    return emulator.fetch(request);
  });
  baseUrl = server.url;
});
afterAll(closeAll);
beforeEach(() => {
  emulator.clearFaults();
  received.length = 0;
  skewMs = 0;
});

const sdk = (apiKey = TEST_API_KEY) => new GoogleGenAI({ apiKey, httpOptions: { apiVersion: "v1alpha", baseUrl } });
const provider = () => gemini({ apiKey: TEST_API_KEY, baseUrl, retry: { attempts: 1 } });
const context = (more: Partial<MintContext> = {}): MintContext => ({ signal: AbortSignal.timeout(10_000), user: { id: "user-1" }, ...more });

function mint(input: GeminiConfigInput, more: Partial<MintContext> = {}, target = provider()) {
  return target.mint(parseConfig(target, input), context(more));
}

/** One Live session start with the token, through the emulator's stand-in for the WebSocket handshake. */
async function startSession(token: string): Promise<number> {
  const response = await fetch(`${baseUrl}${SESSION_PATH}?access_token=${encodeURIComponent(token)}`);
  await response.body?.cancel();
  return response.status;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a refusal"),
    (error: unknown) => error,
  );
}

const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

const CONSTRAINTS = {
  model: "gemini-live-2.5-flash-preview",
  config: {
    responseModalities: ["AUDIO"],
    temperature: 0.7,
    systemInstruction: "Answer in English.",
    tools: [{ googleSearch: {} }],
    outputAudioTranscription: {},
  },
} as const;

describe("@google/genai authTokens.create against the emulator", () => {
  it("mints a single-use token from a bare config, sent flat with the key in x-goog-api-key", async () => {
    const config: CreateAuthTokenConfig = { uses: 1, expireTime: inMinutes(30), newSessionExpireTime: inMinutes(1) };
    const token = await sdk().authTokens.create({ config });

    expect(token.name).toMatch(/^auth_tokens\/\w{16,}$/);
    expect(received).toHaveLength(1);
    expect(received[0]!.apiKey).toBe(TEST_API_KEY);
    expect(received[0]!.body).toEqual({ expireTime: config.expireTime, newSessionExpireTime: config.newSessionExpireTime, uses: 1 });

    expect(await startSession(token.name!)).toBe(200);
    expect(await startSession(token.name!)).toBe(401);
  });

  it("unwraps liveConnectConstraints into bidiGenerateContentSetup and locks the extra fields by fieldMask", async () => {
    const token = await sdk().authTokens.create({
      config: { uses: 0, liveConnectConstraints: structuredClone(CONSTRAINTS) as never, lockAdditionalFields: ["topK", "temperature"] },
    });
    expect(token.name).toMatch(/^auth_tokens\//);
    const { body } = received[0]!;
    expect(body.bidiGenerateContentSetup).toEqual({
      model: "models/gemini-live-2.5-flash-preview",
      generationConfig: { responseModalities: ["AUDIO"], temperature: 0.7 },
      systemInstruction: { parts: [{ text: "Answer in English." }], role: "user" },
      tools: [{ googleSearch: {} }],
      outputAudioTranscription: {},
    });
    expect(body.fieldMask).toBe(
      "model,generationConfig.responseModalities,generationConfig.temperature,systemInstruction.parts,systemInstruction.role,tools.0,outputAudioTranscription,generationConfig.topK,generationConfig.temperature",
    );
    // uses: 0 is unlimited.
    for (let i = 0; i < 3; i++) expect(await startSession(token.name!)).toBe(200);
  });

  it("is refused by the emulator when its values are out of range, as Google's ApiError", async () => {
    const issued = emulator.stats.tokensIssued;
    const cases: CreateAuthTokenConfig[] = [{ uses: -1 }, { uses: 1.5 }, { expireTime: inMinutes(21 * 60) }, { newSessionExpireTime: inMinutes(-1) }, { expireTime: "tomorrow" }];
    for (const config of cases) {
      const error = await rejection(sdk().authTokens.create({ config }));
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(400);
      expect(JSON.parse((error as ApiError).message)).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    }
    expect(emulator.stats.tokensIssued).toBe(issued);
  });

  it("is refused for a wrong key with Google's API_KEY_INVALID, which never repeats the key", async () => {
    const error = (await rejection(sdk(WRONG_KEY).authTokens.create({ config: {} }))) as ApiError;
    expect(error.status).toBe(400);
    expect(error.message).toContain("API_KEY_INVALID");
    expect(error.message).not.toContain(WRONG_KEY);
  });
});

describe("our provider against the same emulator", () => {
  it("sends what the SDK sends for the same config, in each of the SDK's locking cases", async () => {
    const locks: Array<string[] | undefined> = [undefined, [], ["temperature", "seed", "proactivity"]];
    for (const constraints of [CONSTRAINTS, undefined]) {
      for (const lockAdditionalFields of locks) {
        received.length = 0;
        await sdk().authTokens.create({ config: { uses: 2, liveConnectConstraints: structuredClone(constraints) as never, lockAdditionalFields } });
        await mint({ uses: 2, liveConnectConstraints: structuredClone(constraints) as never, lockAdditionalFields });
        const [fromSdk, ours] = received.map(({ body }) => body) as [Record<string, unknown>, Record<string, unknown>];
        expect(ours.bidiGenerateContentSetup).toEqual(fromSdk.bidiGenerateContentSetup);
        expect(ours.fieldMask).toBe(fromSdk.fieldMask);
        expect(ours.uses).toBe(fromSdk.uses);
        // The SDK sends no times unless told; ours are always explicit.
        expect(Object.keys(ours).filter((key) => !key.endsWith("xpireTime"))).toEqual(Object.keys(fromSdk));
      }
    }
  });

  it("mints with the upstream's defaults: a single-use token that starts sessions for 60 s, messages for 30 min", async () => {
    const target = provider();
    const before = Date.now();
    const minted = await mint({}, {}, target);
    const after = Date.now();

    expect(minted.token).toMatch(/^auth_tokens\//);
    expect(minted.status).toBe(200);
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(minted.expiresAt).toBeLessThanOrEqual(after + 60_000);
    const { body } = received[0]!;
    expect(body).toEqual({ expireTime: minted.extra!.sessionExpiresAt, newSessionExpireTime: new Date(minted.expiresAt).toISOString(), uses: 1 });
    expect(Date.parse(body.expireTime as string) - minted.expiresAt).toBe(29 * 60_000);
    expect(minted.extra).toEqual({ apiVersion: "v1alpha", sessionExpiresAt: body.expireTime });
    expect(tokenUseOf(target, parseConfig(target, {}))).toBe("single-use");

    expect(await startSession(minted.token)).toBe(200);
    expect(await startSession(minted.token)).toBe(401);
  });

  it("names the model for the browser, and lets a multi-use token start as many sessions as it allows", async () => {
    const target = provider();
    const minted = await mint({ uses: 2, liveConnectConstraints: CONSTRAINTS as never }, {}, target);
    expect(minted.extra).toMatchObject({ apiVersion: "v1alpha", model: CONSTRAINTS.model });
    // A token with a number of uses cannot go to any number of sessions: only `uses: 0` is reusable.
    expect(tokenUseOf(target, parseConfig(target, { uses: 2 }))).toBe("single-use");
    expect(tokenUseOf(target, parseConfig(target, { uses: 0 }))).toBe("reusable");
    expect(await startSession(minted.token)).toBe(200);
    expect(await startSession(minted.token)).toBe(200);
    expect(await startSession(minted.token)).toBe(401);
  });

  it("starts no session once the new-session window has passed", async () => {
    const minted = await mint({ newSessionExpireSeconds: 30 });
    skewMs = 31_000;
    expect(await startSession(minted.token)).toBe(401);
  });

  it("lowers expireTime to the app's session ceiling, and the new-session window with it, never raising either", async () => {
    const seconds = (field: string, body: Record<string, unknown>, from: number) => Math.round((Date.parse(body[field] as string) - from) / 1000);

    let from = Date.now();
    await mint({}, { maxSessionSeconds: 300 });
    expect(seconds("expireTime", received[0]!.body, from)).toBe(300);
    expect(seconds("newSessionExpireTime", received[0]!.body, from)).toBe(60);

    received.length = 0;
    from = Date.now();
    const short = await mint({}, { maxSessionSeconds: 20 });
    expect(seconds("expireTime", received[0]!.body, from)).toBe(20);
    expect(seconds("newSessionExpireTime", received[0]!.body, from)).toBe(20);
    expect(Math.round((short.expiresAt - from) / 1000)).toBe(20);

    received.length = 0;
    from = Date.now();
    await mint({ expireSeconds: 120 }, { maxSessionSeconds: 3600 });
    expect(seconds("expireTime", received[0]!.body, from)).toBe(120);
  });

  it("the demo profile: a single-use token that starts its session within 60 s", async () => {
    const { lifetimeSeconds, use } = await demoToken(gemini.emulated(), gemini.demo);
    expect(use).toBe("single-use");
    expect(lifetimeSeconds).toBeCloseTo(60, -1);
  });

  it("mints the demo profile on an emulator in this process", async () => {
    const demo = gemini.emulated();
    const minted = await mint(gemini.demo, {}, demo);
    expect(minted.token).toMatch(/^auth_tokens\//);
    expect(minted.extra?.model).toBe(gemini.demo.liveConnectConstraints.model);
    expect(demo.emulator!.stats.tokensIssued).toBe(1);
  });

  it("is made from GEMINI_API_KEY and GEMINI_BASE_URL, or not at all without a key", () => {
    expect(gemini.fromEnv({})).toBeUndefined();
    expect(gemini.fromEnv({ GEMINI_API_KEY: "" })).toBeUndefined();
    expect(gemini.fromEnv({ GEMINI_API_KEY: TEST_API_KEY })!.upstream.endpoint.href).toBe("https://generativelanguage.googleapis.com/v1alpha/auth_tokens");
    expect(gemini.fromEnv({ GEMINI_API_KEY: TEST_API_KEY, GEMINI_BASE_URL: `${baseUrl}/proxy` })!.upstream.endpoint.href).toBe(`${baseUrl}/proxy/v1alpha/auth_tokens`);
  });
});

describe("through the handler", () => {
  it("hands a token with a number of uses to one session each: every session a user starts, one after another, is let in", async () => {
    const handler = createTokenHandler({
      profiles: { twice: { provider: provider(), config: { uses: 2 } } },
      authenticate: () => ({ id: "alice" }),
      rateLimit: false,
      logger: capturingLogger(),
    });
    const url = `${(await listen("handler-gemini-uses", handler)).url}/api/session-token`;
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: "POST", headers: { Authorization: "Bearer alice", "Content-Type": "application/json" }, body: JSON.stringify(body) });

    const tokens = new Set<string>();
    for (let session = 1; session <= 3; session++) {
      const { token } = (await (await post("", { profile: "twice" })).json()) as { token: string };
      tokens.add(token);
      expect(await startSession(token), `session ${session}`).toBe(200);
      expect((await post("/usage", { token, event: "started" })).status).toBe(204);
    }
    expect(tokens.size).toBe(3);
  });
});

describe("refusals and how our provider classifies them", () => {
  it("a wrong key: a 400 that is not retried, and whose message holds neither key", async () => {
    const target = gemini({ apiKey: WRONG_KEY, baseUrl, retry: { attempts: 1 } });
    const error = await rejection(mint({}, {}, target));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).upstreamStatus).toBe(400);
    expect((error as UpstreamError).message).toMatch(/INVALID_ARGUMENT: API key not valid/);
    expect((error as UpstreamError).message).not.toContain(WRONG_KEY);
    expect(target.upstream.classify(error)).toMatchObject({ retryable: false, errorType: "400" });
    expect(target.redact(`sent ${WRONG_KEY} upstream`)).toBe("sent [redacted] upstream");
  });

  it("no key at all: Google's 403 PERMISSION_DENIED", async () => {
    const response = await fetch(`${baseUrl}/v1alpha/auth_tokens`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: 403, status: "PERMISSION_DENIED" } });
  });

  it("bad requests: 400 INVALID_ARGUMENT naming the field, for the SDK's flat fields and its setup", async () => {
    const post = async (body: unknown) => {
      const response = await fetch(`${baseUrl}/v1alpha/auth_tokens`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "x-goog-api-key": TEST_API_KEY },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as { error: { code: number; message: string; status: string } } };
    };
    const cases: Array<[unknown, RegExp]> = [
      [{ uses: 1, ttl: 60 }, /Unknown name "ttl"/],
      [{ uses: "many" }, /'uses'/],
      [{ expireTime: inMinutes(20 * 60 + 1) }, /expire_time must be less than 20 hours/],
      [{ newSessionExpireTime: inMinutes(-5) }, /new_session_expire_time must be in the future/],
      [{ bidiGenerateContentSetup: { model: "gemini-live-2.5-flash-preview" } }, /models\/\{model\}/],
      [{ bidiGenerateContentSetup: { model: "models/x", liveConnectConfig: {} } }, /Unknown name "liveConnectConfig" at 'bidi_generate_content_setup'/],
      [{ fieldMask: ["temperature"] }, /'field_mask'/],
    ];
    for (const [body, message] of cases) {
      const answer = await post(body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.status).toBe("INVALID_ARGUMENT");
      expect(answer.body.error.message).toMatch(message);
    }
  });

  it("an injected 503 with Retry-After is retryable and carries the wait; a 429 too", async () => {
    const target = provider();
    emulator.inject({ status: 503, retryAfter: 7 }, { status: 429 });

    const unavailable = await rejection(mint({}, {}, target));
    expect(unavailable).toBeInstanceOf(UpstreamError);
    expect((unavailable as UpstreamError).message).toContain("UNAVAILABLE");
    expect(target.upstream.classify(unavailable)).toEqual({ retryable: true, retryAfterMs: 7000, errorType: "503" });

    const limited = await rejection(mint({}, {}, target));
    expect(target.upstream.classify(limited)).toMatchObject({ retryable: true, errorType: "429" });

    expect((await mint({}, {}, target)).token).toMatch(/^auth_tokens\//);
  });

  it("a 200 without an auth_tokens/ name is an invalid answer, not retried", async () => {
    const target = provider();
    emulator.inject({ status: 200, body: JSON.stringify({ name: "" }) });
    const error = await rejection(mint({}, {}, target));
    expect(error).toBeInstanceOf(InvalidUpstreamResponse);
    expect(target.upstream.classify(error)).toMatchObject({ retryable: false, errorType: "invalid_response" });
  });
});

describe("the config schema", () => {
  const target = gemini({ apiKey: TEST_API_KEY });
  const refusal = (input: unknown) => {
    try {
      parseConfig(target, input);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).detail;
    }
    return expect.unreachable("expected the config to be refused");
  };

  it("refuses a misspelt field, naming it, at any depth", () => {
    expect(refusal({ expireSecond: 600 })).toMatch(/^expireSecond: /);
    expect(refusal({ liveConnectConstraints: { model: "gemini-live-2.5-flash-preview", config: { temprature: 1 } } })).toMatch(/liveConnectConstraints\.config\.temprature/);
  });

  it("refuses values the upstream would refuse, and a new-session window longer than the session", () => {
    expect(refusal({ uses: -1 })).toMatch(/^uses: /);
    expect(refusal({ uses: 1.5 })).toMatch(/^uses: /);
    expect(refusal({ expireSeconds: 20 * 3600 })).toMatch(/^expireSeconds: must be less than 20 hours/);
    expect(refusal({ newSessionExpireSeconds: 3600 })).toMatch(/^newSessionExpireSeconds: must not be longer than expireSeconds/);
    expect(refusal({ liveConnectConstraints: { model: "../models/x" } })).toMatch(/^liveConnectConstraints\.model: /);
    expect(refusal({ lockAdditionalFields: ["temperature; drop"] })).toMatch(/^lockAdditionalFields\.0: /);
    expect(refusal({ liveConnectConstraints: { model: "m", config: { temperature: 1, generationConfig: { temperature: 0.5 } } } })).toMatch(/both on its own and in generationConfig/);
  });

  it("fills in the upstream's defaults", () => {
    expect(parseConfig(target, {})).toEqual({ uses: 1, expireSeconds: 1800, newSessionExpireSeconds: 60 });
    expect(parseConfig(target, gemini.demo)).toMatchObject({ uses: 1, lockAdditionalFields: [] });
  });
});
