import OpenAI, { AuthenticationError, BadRequestError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidUpstreamResponse, OptionError, UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, tokenUseOf, type MintContext } from "../../src/provider.ts";
import { createOpenAIEmulator, openai, type OpenAIConfigInput, type OpenAIEmulator } from "../../src/providers/openai/index.ts";
import { listen, type Listening } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// OpenAI's own SDK and our provider both mint client secrets from the emulator on a loopback port,
// so the emulator is held to what the SDK sends and reads, and our provider to what the emulator
// checks. The emulator's clock stands still, so expiries are exact; a test moves it to expire a secret.

const API_KEY = "sk-test-openai-3b9f1c7e5a2d4b6f8c0e";
/** A browser's offer as the Realtime guide's page makes it: audio to receive and the `oai-events` data channel. */
const SDP_OFFER = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdefghijklmn",
  "a=setup:actpass",
  "a=mid:0",
  "a=recvonly",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "a=rtpmap:0 PCMU/8000",
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
  "c=IN IP4 0.0.0.0",
  "a=mid:1",
  "a=sctp-port:5000",
  "",
].join("\r\n");

interface Seen {
  path: string;
  authorization: string | null;
  contentType: string | null;
  body: unknown;
}

let emulator: OpenAIEmulator;
let server: Listening;
let clock = Date.now();
const seen: Seen[] = [];

beforeAll(async () => {
  emulator = createOpenAIEmulator({ apiKey: API_KEY, now: () => clock });
  server = await listen("openai-emulator", async (request) => {
    const text = await request.clone().text();
    seen.push({
      path: new URL(request.url).pathname,
      authorization: request.headers.get("Authorization"),
      contentType: request.headers.get("Content-Type"),
      body: parsedOrText(text),
    });
    return emulator.fetch(request);
  });
});
afterAll(() => server.close());
beforeEach(() => {
  emulator.clearFaults();
  clock = Date.now();
  seen.length = 0;
});

/** A JSON body as its value, anything else (an SDP offer) as its text. */
function parsedOrText(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const nowSeconds = () => Math.floor(clock / 1000);

function context(extra: Partial<MintContext> = {}): MintContext {
  return { signal: new AbortController().signal, user: { id: "user-1" }, ...extra };
}

/** The SDK with its own retries off, so each refusal is the emulator's first answer. */
function sdk(apiKey = API_KEY) {
  return new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
}

function provider() {
  return openai({ apiKey: API_KEY, baseUrl: server.url });
}

/** What `promise` rejected with; fails the test when it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

/** The browser's WebRTC offer, with the client secret as its bearer. */
function call(secret: string, contentType = "application/sdp") {
  return fetch(`${server.url}/v1/realtime/calls`, { method: "POST", headers: { Authorization: `Bearer ${secret}`, "Content-Type": contentType }, body: SDP_OFFER });
}

const realtimeConfig: OpenAIConfigInput = {
  session: { type: "realtime", model: "gpt-realtime", instructions: "Be brief.", audio: { output: { voice: "marin" } } },
  expiresAfterSeconds: 300,
};

describe("the openai SDK against the emulator", () => {
  it("creates a client secret for a realtime session, and the SDK reads value, expires_at and session", async () => {
    const secret = await sdk().realtime.clientSecrets.create({
      expires_after: { anchor: "created_at", seconds: 300 },
      session: { type: "realtime", model: "gpt-realtime", instructions: "Be brief.", audio: { output: { voice: "marin" } } },
    });
    expect(secret.value).toMatch(/^ek_[0-9a-f]{32}$/);
    expect(secret.expires_at).toBe(nowSeconds() + 300);
    expect(secret.session).toMatchObject({ type: "realtime", object: "realtime.session", model: "gpt-realtime", instructions: "Be brief.", audio: { output: { voice: "marin" } } });
    expect(secret.session.id).toMatch(/^sess_/);
    expect(seen[0]).toMatchObject({ path: "/v1/realtime/client_secrets", authorization: `Bearer ${API_KEY}` });
  });

  it("defaults to 600 seconds, and answers a transcription session as one", async () => {
    const secret = await sdk().realtime.clientSecrets.create({ session: { type: "transcription", audio: { input: { format: { type: "audio/pcm", rate: 24000 } } } } });
    expect(secret.expires_at).toBe(nowSeconds() + 600);
    expect(secret.session).toMatchObject({ type: "transcription", object: "realtime.transcription_session" });
  });

  it("accepts the SDK's call with every field left out, answering a default realtime session", async () => {
    const secret = await sdk().realtime.clientSecrets.create({});
    expect(secret.expires_at).toBe(nowSeconds() + 600);
    expect(secret.session.type).toBe("realtime");
  });

  it("refuses a bad key with OpenAI's error body, which the SDK reads into an AuthenticationError", async () => {
    const error = await rejection(sdk("sk-test-wrong-key").realtime.clientSecrets.create({ session: { type: "realtime", model: "gpt-realtime" } }));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: "invalid_api_key", type: "invalid_request_error" });
  });

  it("refuses an expiry outside 10..7200 seconds, naming the parameter", async () => {
    for (const [seconds, code] of [
      [9, "integer_below_min_value"],
      [7201, "integer_above_max_value"],
    ] as const) {
      const error = await rejection(sdk().realtime.clientSecrets.create({ expires_after: { anchor: "created_at", seconds } }));
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error).toMatchObject({ status: 400, param: "expires_after.seconds", code });
    }
  });

  it("refuses a session parameter the SDK does not know, as OpenAI refuses unknown parameters", async () => {
    const session = { type: "realtime", model: "gpt-realtime", voice: "marin" } as unknown as OpenAI.Realtime.RealtimeSessionCreateRequest;
    const error = await rejection(sdk().realtime.clientSecrets.create({ session }));
    expect(error).toMatchObject({ status: 400, param: "session.voice", code: "unknown_parameter" });
  });
});

describe("the browser's WebRTC call with a client secret", () => {
  it("answers an SDP offer with 201 as often as it is made while the secret is live, then 401", async () => {
    const { value, expires_at } = await sdk().realtime.clientSecrets.create({ expires_after: { anchor: "created_at", seconds: 60 } });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await call(value);
      expect(response.status).toBe(201);
      expect(response.headers.get("Content-Type")).toBe("application/sdp");
      expect(response.headers.get("Location")).toMatch(/^\/v1\/realtime\/calls\/rtc_/);
      expect(await response.text()).toMatch(/^v=0\r\n/);
    }
    clock = expires_at * 1000;
    const expired = await call(value);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });

  it("answers each media section of the offer in kind: Opus to send, the data channel, both in one bundle", async () => {
    const { value } = await sdk().realtime.clientSecrets.create({});
    const answer = await (await call(value)).text();
    expect(answer).toMatch(/\r\na=group:BUNDLE 0 1\r\n/);
    const [audio, channel] = answer.split(/\r\n(?=m=)/).slice(1);
    expect(audio).toMatch(/^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111\r\n/);
    expect(audio).toMatch(/\r\na=sendonly\r\n/);
    expect(audio).toMatch(/\r\na=setup:active\r\n/);
    expect(audio).toMatch(/\r\na=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r\n/);
    expect(channel).toMatch(/^m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r\n[^]*a=mid:1\r\n/);
  });

  it("lets pages on any origin call it and read the call's Location", async () => {
    const preflight = await fetch(`${server.url}/v1/realtime/calls`, { method: "OPTIONS", headers: { Origin: "http://app.test", "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Headers")).toMatch(/Authorization/);
    const { value } = await sdk().realtime.clientSecrets.create({});
    for (const secret of [value, "ek_unknown"]) {
      const response = await call(secret);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(response.headers.get("Access-Control-Expose-Headers")).toBe("Location");
    }
  });

  it("refuses a secret it never issued, and an offer that is not SDP", async () => {
    expect((await call("ek_0123456789abcdef")).status).toBe(401);
    const { value } = await sdk().realtime.clientSecrets.create({});
    const notSdp = await call(value, "application/json");
    expect(notSdp.status).toBe(400);
    expect(await notSdp.json()).toMatchObject({ error: { message: expect.stringContaining("application/sdp") } });
    const videoOnly = await fetch(`${server.url}/v1/realtime/calls`, { method: "POST", headers: { Authorization: `Bearer ${value}`, "Content-Type": "application/sdp" }, body: "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n" });
    expect(videoOnly.status).toBe(400);
    expect(await videoOnly.json()).toMatchObject({ error: { param: "sdp", message: expect.stringContaining("neither Opus audio nor a data channel") } });
  });
});

describe("our provider against the emulator", () => {
  it("mints a reusable client secret whose expiry is the answer's expires_at", async () => {
    const minted = await provider().mint(parseConfig(provider(), realtimeConfig), context());
    expect(minted.token).toMatch(/^ek_/);
    expect(minted.expiresAt).toBe((nowSeconds() + 300) * 1000);
    expect(minted.extra).toBeUndefined();
    expect(minted.status).toBe(200);
    expect(tokenUseOf(provider(), parseConfig(provider(), realtimeConfig))).toBe("reusable");
    expect((await call(minted.token)).status).toBe(201);
    expect((await call(minted.token)).status).toBe(201);
  });

  it("sends what the SDK sends for the same session: the same endpoint, headers and body", async () => {
    await provider().mint(parseConfig(provider(), realtimeConfig), context());
    await sdk().realtime.clientSecrets.create({ expires_after: { anchor: "created_at", seconds: 300 }, session: realtimeConfig.session as OpenAI.Realtime.RealtimeSessionCreateRequest });
    const [ours, theirs] = seen;
    expect(ours).toEqual({
      path: "/v1/realtime/client_secrets",
      authorization: `Bearer ${API_KEY}`,
      contentType: "application/json",
      body: { expires_after: { anchor: "created_at", seconds: 300 }, session: realtimeConfig.session },
    });
    expect(theirs).toEqual(ours);
  });

  it("asks for 600 seconds when the config names no expiry, and sends no session length, having no field for one", async () => {
    const config = parseConfig(provider(), { session: { type: "realtime", model: "gpt-realtime-mini" } });
    const minted = await provider().mint(config, context({ maxSessionSeconds: 120 }));
    expect(minted.expiresAt).toBe((nowSeconds() + 600) * 1000);
    expect(seen[0]!.body).toEqual({ expires_after: { anchor: "created_at", seconds: 600 }, session: { type: "realtime", model: "gpt-realtime-mini" } });
  });

  it("reaches the same endpoint from a base URL written the SDK's way, with /v1", async () => {
    const sdkStyle = openai({ apiKey: API_KEY, baseUrl: `${server.url}/v1` });
    expect(sdkStyle.upstream.endpoint.href).toBe(`${server.url}/v1/realtime/client_secrets`);
    expect(provider().upstream.endpoint.href).toBe(`${server.url}/v1/realtime/client_secrets`);
    expect((await sdkStyle.mint(parseConfig(sdkStyle, realtimeConfig), context())).token).toMatch(/^ek_/);
  });

  it("classifies a bad key as not worth retrying, and its message holds no key", async () => {
    const wrongKey = "sk-test-revoked-7c5e3a1f";
    const bad = openai({ apiKey: wrongKey, baseUrl: server.url });
    const error = await rejection(bad.mint(parseConfig(bad, realtimeConfig), context()));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).upstreamStatus).toBe(401);
    expect((error as UpstreamError).message).toContain("Incorrect API key provided");
    expect((error as UpstreamError).message).not.toContain(wrongKey);
    expect(bad.upstream.classify(error)).toEqual({ retryable: false, retryAfterMs: undefined, errorType: "401" });
  });

  it("classifies a session field OpenAI refuses as a bad request, not worth retrying", async () => {
    // The schema lets session fields it does not know pass; OpenAI is the one that refuses them.
    const config = parseConfig(provider(), { session: { type: "realtime", model: "gpt-realtime", voice: "marin" } });
    const error = await rejection(provider().mint(config, context()));
    expect((error as UpstreamError).upstreamStatus).toBe(400);
    expect((error as UpstreamError).message).toContain("Unknown parameter: 'session.voice'");
    expect(provider().upstream.classify(error).retryable).toBe(false);
  });

  it("classifies a rate limit with Retry-After, and a server error, as worth retrying", async () => {
    emulator.inject({ status: 429, retryAfter: 7 }, { status: 503 });
    const limited = await rejection(provider().mint(parseConfig(provider(), realtimeConfig), context()));
    expect(provider().upstream.classify(limited)).toEqual({ retryable: true, retryAfterMs: 7000, errorType: "429" });
    expect((limited as UpstreamError).message).toContain("Rate limit reached");
    const down = await rejection(provider().mint(parseConfig(provider(), realtimeConfig), context()));
    expect(provider().upstream.classify(down)).toMatchObject({ retryable: true, errorType: "503" });
    expect((await provider().mint(parseConfig(provider(), realtimeConfig), context())).token).toMatch(/^ek_/);
  });

  it("takes a 200 without a value, or with an expiry already past, for an invalid answer", async () => {
    emulator.inject({ status: 200, body: JSON.stringify({ expires_at: nowSeconds() + 600 }) }, { status: 200, body: JSON.stringify({ value: "ek_stale", expires_at: 1_000_000 }) });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await rejection(provider().mint(parseConfig(provider(), realtimeConfig), context()));
      expect(error).toBeInstanceOf(InvalidUpstreamResponse);
      expect(provider().upstream.classify(error)).toEqual({ retryable: false, errorType: "invalid_response" });
    }
  });

  it("redacts the key from an upstream message that quotes it", async () => {
    // In process, so that the quoting answer never crosses a recorded socket.
    const apiKey = "sk-test-echoed-1f3e5a7c9b";
    const echoing = openai.emulated({ apiKey });
    echoing.emulator!.inject({ status: 500, body: JSON.stringify({ error: { message: `bad key ${apiKey}` } }) });
    const error = await rejection(echoing.mint(parseConfig(echoing, realtimeConfig), context()));
    expect((error as Error).message).toBe("OpenAI answered 500: bad key [redacted]");
    expect(echoing.redact(`sent ${apiKey}`)).toBe("sent [redacted]");
  });
});

describe("the config schema", () => {
  const schemaOwner = openai({ apiKey: API_KEY });

  function refusal(config: unknown): string {
    try {
      parseConfig(schemaOwner, config);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).detail;
    }
    return expect.unreachable("expected the config to be refused");
  }

  it("refuses a misspelt field, naming it", () => {
    expect(refusal({ session: { type: "realtime", model: "gpt-realtime" }, expiresAfter: 300 })).toMatch(/^expiresAfter: /);
  });

  it("refuses an expiry outside 10..7200 seconds, a session of no known type, and a realtime session with no model", () => {
    expect(refusal({ session: { type: "realtime", model: "gpt-realtime" }, expiresAfterSeconds: 5 })).toBe("expiresAfterSeconds: must be at least 10");
    expect(refusal({ session: { type: "realtime", model: "gpt-realtime" }, expiresAfterSeconds: 7201 })).toBe("expiresAfterSeconds: must be at most 7200");
    expect(refusal({ session: { type: "voice", model: "gpt-realtime" } })).toContain("session.type");
    expect(refusal({ session: { type: "realtime" } })).toContain("session.model");
    expect(refusal({ expiresAfterSeconds: 600 })).toContain("session");
  });

  it("passes session fields it does not check through as they are", () => {
    const session = { type: "realtime", model: "gpt-realtime", tracing: "auto", truncation: { type: "retention_ratio", retention_ratio: 0.5 } };
    expect(parseConfig(schemaOwner, { session }).session).toEqual(session);
  });

  it("the demo profile: a reusable client secret of 600 s", async () => {
    const { lifetimeSeconds, use } = await demoToken(openai.emulated(), openai.demo);
    expect(use).toBe("reusable");
    expect(lifetimeSeconds).toBeCloseTo(600, -1);
  });

  it("takes the demo config, and the in-process emulator mints from it", async () => {
    const emulated = openai.emulated();
    const minted = await emulated.mint(parseConfig(emulated, openai.demo), context());
    expect(minted.token).toMatch(/^ek_/);
    expect(minted.expiresAt - Date.now()).toBeGreaterThan(500_000);
    expect(emulated.emulator!.stats.tokensIssued).toBe(1);
  });
});

describe("options and environment", () => {
  it("refuses a missing key and a base URL with credentials, naming the option and never the key", () => {
    expect(() => openai({ apiKey: "" })).toThrow(OptionError);
    expect(() => openai({ apiKey: "" })).toThrow("openai(): apiKey");
    const withCredentials = () => openai({ apiKey: API_KEY, baseUrl: "https://user:hunter2@gateway.example" });
    expect(withCredentials).toThrow("openai(): baseUrl");
    try {
      withCredentials();
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
      expect((error as Error).message).not.toContain(API_KEY);
    }
  });

  it("is made from OPENAI_API_KEY and OPENAI_BASE_URL, or not at all without a key", () => {
    expect(openai.fromEnv({})).toBeUndefined();
    expect(openai.fromEnv({ OPENAI_API_KEY: "" })).toBeUndefined();
    expect(openai.fromEnv({ OPENAI_API_KEY: API_KEY })!.upstream.endpoint.href).toBe("https://api.openai.com/v1/realtime/client_secrets");
    const gateway = openai.fromEnv({ OPENAI_API_KEY: API_KEY, OPENAI_BASE_URL: "https://gateway.example/openai/v1" });
    expect(gateway!.upstream.endpoint.href).toBe("https://gateway.example/openai/v1/realtime/client_secrets");
    expect(gateway!.name).toBe("openai");
  });
});
