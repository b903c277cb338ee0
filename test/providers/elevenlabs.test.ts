import { ElevenLabsClient, ElevenLabsError } from "@elevenlabs/elevenlabs-js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OptionError, UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, tokenUseOf, type MintContext } from "../../src/provider.ts";
import {
  createElevenLabsEmulator,
  DEMO_AGENT_ID,
  elevenlabs,
  SIGNED_URL_LIFETIME_MS,
  type ElevenLabsConfigInput,
  type ElevenLabsEmulator,
  type ElevenLabsProvider,
} from "../../src/providers/elevenlabs/index.ts";
import { TEST_API_KEY, closeAll, listen } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// ElevenLabs Agents on its emulator over loopback: the vendor's SDK holds the emulator to what it
// sends and parses, and our provider has to pass the same checks.

const AGENT = "agent_3701k3ttaq12ewp8b7qv5rfyszkz";
const OTHER_AGENT = "agent_0000unknown00000000000000";

let emulator: ElevenLabsEmulator;
let base: string;
/** Every request the emulator got, in order: what the SDK and our provider actually sent. */
const seen: Request[] = [];
let provider: ElevenLabsProvider;

beforeAll(async () => {
  emulator = createElevenLabsEmulator({ apiKey: TEST_API_KEY, agentIds: [AGENT, DEMO_AGENT_ID], tokenLifetimeSeconds: 600 });
  base = (
    await listen("elevenlabs-emulator", (request) => {
      seen.push(request.clone());
      return emulator.fetch(request);
    })
  ).url;
  provider = elevenlabs({ apiKey: TEST_API_KEY, baseUrl: base });
});
afterAll(closeAll);
beforeEach(() => {
  seen.length = 0;
  emulator.clearFaults();
});

const sdk = (apiKey = TEST_API_KEY) => new ElevenLabsClient({ apiKey, baseUrl: base, maxRetries: 0 });
const context = (): MintContext => ({ signal: AbortSignal.timeout(10_000), user: { id: "user-1" } });
const mint = (input: ElevenLabsConfigInput, using: ElevenLabsProvider = provider) => using.mint(parseConfig(using, input), context());
const lastRequest = () => {
  const request = seen.at(-1)!;
  return { url: new URL(request.url), method: request.method, key: request.headers.get("xi-api-key") };
};
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail("expected a refusal"),
    (error: unknown) => error,
  );

describe("the vendor SDK against the emulator (@elevenlabs/elevenlabs-js)", () => {
  it("getWebrtcToken: the emulator takes what the SDK sends, the SDK parses the token and conversation id", async () => {
    const answer = await sdk().conversationalAi.conversations.getWebrtcToken({ agentId: AGENT, participantName: "Ada", branchId: "agtbrch_1" });
    expect(answer.conversationId).toMatch(/^conv_[0-9a-z]{26}$/);
    const claims = decodeJwt(answer.token);
    expect(claims.sub).toBe("Ada");
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
    expect(claims.video).toMatchObject({ roomJoin: true });
    const sent = lastRequest();
    expect(sent.method).toBe("GET");
    expect(sent.url.pathname).toBe("/v1/convai/conversation/token");
    expect(Object.fromEntries(sent.url.searchParams)).toEqual({ agent_id: AGENT, participant_name: "Ada", branch_id: "agtbrch_1" });
    expect(sent.key).toBe(TEST_API_KEY);
  });

  it("getSignedUrl: the SDK parses the signed URL, which carries the conversation id when asked", async () => {
    const plain = await sdk().conversationalAi.conversations.getSignedUrl({ agentId: AGENT });
    const url = new URL(plain.signedUrl);
    expect(url.protocol).toBe("ws:");
    expect(url.pathname).toBe("/v1/convai/conversation");
    expect(url.searchParams.get("agent_id")).toBe(AGENT);
    expect(url.searchParams.get("conversation_signature")).toMatch(/^[0-9a-z]{52}$/);
    expect(url.searchParams.has("conversation_id")).toBe(false);

    const single = await sdk().conversationalAi.conversations.getSignedUrl({ agentId: AGENT, includeConversationId: true });
    expect(new URL(single.signedUrl).searchParams.get("conversation_id")).toMatch(/^conv_/);
    const sent = lastRequest();
    expect(sent.url.pathname).toBe("/v1/convai/conversation/get-signed-url");
    expect(Object.fromEntries(sent.url.searchParams)).toEqual({ agent_id: AGENT, include_conversation_id: "true" });
  });

  it("the SDK reads the emulator's refusals: 401 invalid_api_key, 404 for an unknown agent, 422 as its UnprocessableEntityError", async () => {
    const badKey = await failure(sdk("sk_wrong").conversationalAi.conversations.getSignedUrl({ agentId: AGENT }));
    expect(badKey).toBeInstanceOf(ElevenLabsError);
    expect(badKey).toMatchObject({ statusCode: 401, body: { detail: { status: "invalid_api_key", message: "Invalid API key" } } });

    const unknown = await failure(sdk().conversationalAi.conversations.getWebrtcToken({ agentId: OTHER_AGENT }));
    expect(unknown).toMatchObject({ statusCode: 404 });

    // The SDK types agentId as required; left out, it sends no agent_id at all.
    const missing = await failure(sdk().conversationalAi.conversations.getWebrtcToken({} as { agentId: string }));
    expect((missing as Error).name).toBe("UnprocessableEntityError");
    expect(missing).toMatchObject({ statusCode: 422, body: { detail: [{ loc: ["query", "agent_id"], msg: "Field required", type: "missing" }] } });
  });
});

describe("our provider's mint against the same emulator", () => {
  it("webrtc: a conversation token, its expiry from its own exp, and what the browser needs in extra", async () => {
    const minted = await mint({ agentId: AGENT, participantName: "Ada", branchId: "agtbrch_1" });
    expect(minted.expiresAt).toBe(decodeJwt(minted.token).exp! * 1000);
    expect(minted.expiresAt).toBeGreaterThan(Date.now() + 500_000); // the emulator's 600 s, not the assumed 900 s
    expect(minted.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(minted.extra).toEqual({ connection: "webrtc", conversationId: expect.stringMatching(/^conv_/) });
    expect(minted.status).toBe(200);
    expect(tokenUseOf(provider, parseConfig(provider, { agentId: AGENT }))).toBe("single-use");
  });

  it("webrtc: sends exactly what the SDK sends for the same request", async () => {
    await sdk().conversationalAi.conversations.getWebrtcToken({ agentId: AGENT, participantName: "Ada", branchId: "agtbrch_1", versionId: "agtvrsn_2" });
    const fromSdk = lastRequest();
    await mint({ agentId: AGENT, participantName: "Ada", branchId: "agtbrch_1", versionId: "agtvrsn_2" });
    const fromUs = lastRequest();
    expect(fromUs.method).toBe(fromSdk.method);
    expect(fromUs.url.pathname).toBe(fromSdk.url.pathname);
    expect(Object.fromEntries(fromUs.url.searchParams)).toEqual(Object.fromEntries(fromSdk.url.searchParams));
    expect(fromUs.key).toBe(fromSdk.key);
  });

  it("websocket: a plain signed URL is reusable, lives 15 minutes, and starts a conversation more than once", async () => {
    const before = Date.now();
    const minted = await mint({ agentId: AGENT, connection: "websocket" });
    expect(minted.token.startsWith(`ws://${new URL(base).host}/v1/convai/conversation?`)).toBe(true);
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + SIGNED_URL_LIFETIME_MS);
    expect(minted.expiresAt).toBeLessThanOrEqual(Date.now() + SIGNED_URL_LIFETIME_MS);
    expect(minted.extra).toEqual({ connection: "websocket" });
    expect(tokenUseOf(provider, parseConfig(provider, { agentId: AGENT, connection: "websocket" }))).toBe("reusable");

    const started = emulator.stats.sessionsStarted;
    expect((await startConversation(minted.token)).status).toBe(200);
    expect((await startConversation(minted.token)).status).toBe(200);
    expect(emulator.stats.sessionsStarted).toBe(started + 2);
  });

  it("websocket with includeConversationId: single-use, the conversation id in extra, and a second start refused", async () => {
    const config = parseConfig(provider, { agentId: AGENT, connection: "websocket", includeConversationId: true });
    expect(tokenUseOf(provider, config)).toBe("single-use");
    const minted = await provider.mint(config, context());
    const conversationId = new URL(minted.token).searchParams.get("conversation_id");
    expect(minted.extra).toEqual({ connection: "websocket", conversationId });

    const first = await startConversation(minted.token);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ conversation_id: conversationId, agent_id: AGENT });
    const again = await startConversation(minted.token);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ detail: { status: "signature_used" } });
  });

  it("websocket: sends exactly what the SDK sends for the same request", async () => {
    await sdk().conversationalAi.conversations.getSignedUrl({ agentId: AGENT, includeConversationId: false, branchId: "agtbrch_1", environment: "staging" });
    const fromSdk = lastRequest();
    await mint({ agentId: AGENT, connection: "websocket", includeConversationId: false, branchId: "agtbrch_1", environment: "staging" });
    const fromUs = lastRequest();
    expect(fromUs.url.pathname).toBe(fromSdk.url.pathname);
    expect(Object.fromEntries(fromUs.url.searchParams)).toEqual(Object.fromEntries(fromSdk.url.searchParams));
    expect(fromUs.key).toBe(fromSdk.key);
  });

  it("describes its upstream as GET under /v1/convai/conversation/, with no query or key in it", () => {
    expect(provider.upstream.method).toBe("GET");
    expect(provider.upstream.endpoint.href).toBe(`${base}/v1/convai/conversation/`);
  });
});

describe("the emulator's refusals, and how our provider classifies them", () => {
  it("a bad key: 401, never retried, and the key in no message", async () => {
    const wrongKey = elevenlabs({ apiKey: "sk_not_the_right_key_0123456789", baseUrl: base });
    const error = await failure(mint({ agentId: AGENT }, wrongKey));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).upstreamStatus).toBe(401);
    expect((error as Error).message).toBe("ElevenLabs answered 401: invalid_api_key: Invalid API key");
    expect(wrongKey.upstream.classify(error)).toMatchObject({ retryable: false, errorType: "401" });
    expect(JSON.stringify({ message: (error as Error).message, cause: String((error as Error).cause) })).not.toContain("sk_not_the_right_key");
  });

  it("an unknown agent: 404, never retried", async () => {
    const error = await failure(mint({ agentId: OTHER_AGENT, connection: "websocket" }));
    expect((error as UpstreamError).upstreamStatus).toBe(404);
    expect(provider.upstream.classify(error).retryable).toBe(false);
  });

  it("a query that does not validate: 422 with FastAPI's detail list, never retried", async () => {
    const notBoolean = await fetch(`${base}/v1/convai/conversation/get-signed-url?agent_id=${AGENT}&include_conversation_id=maybe`, {
      headers: { "xi-api-key": TEST_API_KEY },
    });
    expect(notBoolean.status).toBe(422);
    expect(await notBoolean.json()).toEqual({
      detail: [{ type: "bool_parsing", loc: ["query", "include_conversation_id"], msg: "Input should be a valid boolean, unable to interpret input", input: "maybe" }],
    });

    const error = await failure(
      elevenlabs({ apiKey: TEST_API_KEY, baseUrl: base, fetch: (input, init) => fetch(String(input).replace(/agent_id=[^&]*&?/, ""), init) }).mint(
        parseConfig(provider, { agentId: AGENT }),
        context(),
      ),
    );
    expect((error as UpstreamError).upstreamStatus).toBe(422);
    expect((error as Error).message).toBe("ElevenLabs answered 422: query.agent_id: Field required");
    expect(provider.upstream.classify(error).retryable).toBe(false);
  });

  it("anything but GET is 405, and an unknown path 404, both as JSON", async () => {
    const post = await fetch(`${base}/v1/convai/conversation/token?agent_id=${AGENT}`, { method: "POST", headers: { "xi-api-key": TEST_API_KEY } });
    expect(post.status).toBe(405);
    expect(await post.json()).toEqual({ detail: "Method Not Allowed" });
    const elsewhere = await fetch(`${base}/v1/convai/agents`, { headers: { "xi-api-key": TEST_API_KEY } });
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.headers.get("Content-Type")).toContain("application/json");
  });

  it("a signed URL past its window, or with a forged signature, starts nothing", async () => {
    const stale = createElevenLabsEmulator({ apiKey: TEST_API_KEY, agentIds: [AGENT], signedUrlLifetimeSeconds: 0 });
    const staleBase = (await listen("elevenlabs-emulator-stale", stale.fetch)).url;
    const minted = await mint({ agentId: AGENT, connection: "websocket" }, elevenlabs({ apiKey: TEST_API_KEY, baseUrl: staleBase }));
    const expired = await startConversation(minted.token);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ detail: { status: "signature_expired" } });

    const forged = new URL(minted.token);
    forged.host = new URL(base).host;
    forged.searchParams.set("conversation_signature", "0".repeat(52));
    expect((await startConversation(forged.href)).status).toBe(401);
  });

  it("an injected 429 with Retry-After: retryable, the wait read, ElevenLabs' error shape in the body", async () => {
    emulator.inject({ status: 429, retryAfter: 7 });
    const raw = await fetch(`${base}/v1/convai/conversation/token?agent_id=${AGENT}`, { headers: { "xi-api-key": TEST_API_KEY } });
    expect(raw.status).toBe(429);
    expect(raw.headers.get("Retry-After")).toBe("7");
    expect(await raw.json()).toMatchObject({ detail: { status: "rate_limit_exceeded" } });

    emulator.inject({ status: 429, retryAfter: 7 }, { status: 503 });
    const limited = await failure(mint({ agentId: AGENT }));
    expect(provider.upstream.classify(limited)).toEqual({ retryable: true, retryAfterMs: 7000, errorType: "429" });
    const down = await failure(mint({ agentId: AGENT, connection: "websocket" }));
    expect(provider.upstream.classify(down)).toMatchObject({ retryable: true, errorType: "503" });
    expect((await mint({ agentId: AGENT })).token).toBeTruthy();
  });

  it("a 200 without a usable credential is an upstream error, not a crash", async () => {
    emulator.inject({ status: 200, body: JSON.stringify({ signed_url: "https://example.test/not-a-socket" }) });
    const error = await failure(mint({ agentId: AGENT, connection: "websocket" }));
    expect(provider.upstream.classify(error)).toEqual({ retryable: false, errorType: "invalid_response" });
  });

  it("redact takes the API key out of any text", () => {
    expect(provider.redact(`calling with xi-api-key ${TEST_API_KEY} failed`)).toBe("calling with xi-api-key [redacted] failed");
  });
});

describe("config schema", () => {
  it("defaults to webrtc and keeps the fields as given", () => {
    expect(parseConfig(provider, { agentId: AGENT })).toEqual({ agentId: AGENT, connection: "webrtc" });
    expect(parseConfig(provider, { agentId: AGENT, connection: "websocket", includeConversationId: true })).toEqual({
      agentId: AGENT,
      connection: "websocket",
      includeConversationId: true,
    });
  });

  it.each([
    [{ agentID: AGENT }, "agentID"],
    [{ agentId: AGENT, branchID: "x" }, "branchID"],
    [{ agentId: AGENT, connection: "sip" }, 'connection: must be "webrtc" or "websocket"'],
    [{ agentId: AGENT, includeConversationId: true }, 'includeConversationId: applies to connection "websocket" only'],
    [{ agentId: AGENT, connection: "websocket", participantName: "Ada" }, 'participantName: applies to connection "webrtc" only'],
    [{ agentId: "agent with spaces" }, "agentId: must be an id"],
  ])("refuses %j, naming the field", (input, named) => {
    expect(() => parseConfig(provider, input)).toThrow(ValidationError);
    expect(() => parseConfig(provider, input)).toThrow(named);
  });
});

describe("emulated, demo and fromEnv", () => {
  it("the demo profile: a single-use conversation token of the assumed 15 min", async () => {
    const { lifetimeSeconds, use } = await demoToken(elevenlabs.emulated(), elevenlabs.demo);
    expect(use).toBe("single-use");
    expect(lifetimeSeconds).toBeCloseTo(900, -1);
  });

  it("emulated() mints the demo profile in-process, with no key given", async () => {
    const local = elevenlabs.emulated();
    const minted = await mint(elevenlabs.demo, local);
    expect(minted.extra).toMatchObject({ connection: "webrtc" });
    expect(local.emulator!.stats).toMatchObject({ mintRequests: 1, tokensIssued: 1 });
  });

  it("fromEnv: undefined without a key; the key and base URL when set; a base URL with credentials refused", async () => {
    expect(elevenlabs.fromEnv({})).toBeUndefined();
    expect(elevenlabs.fromEnv({ ELEVENLABS_API_KEY: " " })).toBeUndefined();
    expect(elevenlabs.fromEnv({ ELEVENLABS_API_KEY: "sk_x" })!.upstream.endpoint.origin).toBe("https://api.elevenlabs.io");
    const fromEnv = elevenlabs.fromEnv({ ELEVENLABS_API_KEY: TEST_API_KEY, ELEVENLABS_BASE_URL: base })!;
    expect((await mint({ agentId: AGENT }, fromEnv)).token).toBeTruthy();
    expect(() => elevenlabs.fromEnv({ ELEVENLABS_API_KEY: "sk_x", ELEVENLABS_BASE_URL: "https://user:pw@api.elevenlabs.io" })).toThrow(OptionError);
    expect(() => elevenlabs({ apiKey: "" })).toThrow("elevenlabs(): apiKey");
  });
});

/** What the browser SDK's WebSocket handshake does with a signed URL, as the emulator answers it. */
function startConversation(signedUrl: string): Promise<Response> {
  return fetch(signedUrl.replace(/^ws/, "http"));
}
