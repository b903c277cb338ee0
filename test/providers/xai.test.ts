import OpenAI, { BadRequestError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidUpstreamResponse, OptionError, UpstreamError, ValidationError } from "../../src/errors.ts";
import { parseConfig, tokenUseOf, type MintContext } from "../../src/provider.ts";
import { createXaiEmulator, xai, type XaiEmulator } from "../../src/providers/xai/index.ts";
import { listen, type Listening } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// xAI publishes no JavaScript SDK of its own. Its endpoint has OpenAI's shape, and the openai SDK's
// `clientSecrets.create({ expires_after: { seconds } })` sends exactly the body xAI takes, so that
// SDK stands in for one; our provider then mints from the same emulator on a loopback port. The
// emulator's clock stands still, so expiries are exact.

const API_KEY = "xai-test-5d7f9b1c3e2a4c6e8a0b";

let emulator: XaiEmulator;
let server: Listening;
let clock = Date.now();
const bodies: unknown[] = [];

beforeAll(async () => {
  emulator = createXaiEmulator({ apiKey: API_KEY, now: () => clock });
  server = await listen("xai-emulator", async (request) => {
    bodies.push(await request.clone().text());
    return emulator.fetch(request);
  });
});
afterAll(() => server.close());
beforeEach(() => {
  emulator.clearFaults();
  clock = Date.now();
  bodies.length = 0;
});

const nowSeconds = () => Math.floor(clock / 1000);

function context(extra: Partial<MintContext> = {}): MintContext {
  return { signal: new AbortController().signal, user: { id: "user-1" }, ...extra };
}

/** The openai SDK pointed at the xAI emulator, with its own retries off. */
function sdk(apiKey = API_KEY) {
  return new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
}

function provider() {
  return xai({ apiKey: API_KEY, baseUrl: server.url });
}

/** What `promise` rejected with; fails the test when it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

/** A raw call to the emulator, for bodies neither client would send. */
function post(body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${API_KEY}` }) {
  return fetch(`${server.url}/v1/realtime/client_secrets`, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

describe("the openai SDK, OpenAI-compatible, against the xAI emulator", () => {
  it("creates a client secret from { expires_after: { seconds } }, and the SDK reads value and expires_at", async () => {
    const secret = await sdk().realtime.clientSecrets.create({ expires_after: { seconds: 300 } });
    expect(bodies).toEqual(['{"expires_after":{"seconds":300}}']);
    expect(secret.value).toMatch(/^xai-realtime-[0-9a-f]{48}$/);
    expect(secret.expires_at).toBe(nowSeconds() + 300);
    expect(Object.keys(secret).sort()).toEqual(["expires_at", "value"]);
  });

  it("refuses a session and an anchor, which xAI does not take, with a 400 the SDK reads as a BadRequestError", async () => {
    const withSession = await rejection(sdk().realtime.clientSecrets.create({ session: { type: "realtime", model: "grok-voice-fast-1.0" } }));
    expect(withSession).toBeInstanceOf(BadRequestError);
    // The SDK keeps xAI's `error`, a string here, as the error's `error`.
    expect((withSession as BadRequestError).error).toBe('The "session" field is not supported on this endpoint.');
    const withAnchor = await rejection(sdk().realtime.clientSecrets.create({ expires_after: { anchor: "created_at", seconds: 300 } }));
    expect(withAnchor).toBeInstanceOf(BadRequestError);
    expect((withAnchor as BadRequestError).error).toBe('The "expires_after.anchor" field is not supported on this endpoint.');
  });

  it("refuses a wrong key with a 400 and xAI's { code, error } body, as xAI answers one", async () => {
    const error = await rejection(sdk("xai-test-wrong").realtime.clientSecrets.create({ expires_after: { seconds: 300 } }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toBe('400 "Incorrect API key provided. You can obtain an API key from https://console.x.ai."');
  });
});

describe("the xAI emulator's own checks", () => {
  it("answers 401 without a key, and refuses an expiry outside 1..3600 seconds", async () => {
    const anonymous = await post({}, {});
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ code: "unauthenticated", error: expect.any(String) });
    for (const seconds of [0, 3601, 12.5]) {
      const response = await post({ expires_after: { seconds } });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "invalid-argument", error: expect.stringContaining("expires_after.seconds") });
    }
  });

  it("takes an empty body for the default 600 seconds, as Vercel's client sends it", async () => {
    const response = await post({});
    expect(response.status).toBe(200);
    expect((await response.json()).expires_at).toBe(nowSeconds() + 600);
  });
});

describe("our provider against the emulator", () => {
  it("mints a reusable client secret for the seconds asked, sending expires_after and nothing else", async () => {
    const config = parseConfig(provider(), { expiresAfterSeconds: 3600 });
    const minted = await provider().mint(config, context({ maxSessionSeconds: 120 }));
    expect(bodies).toEqual(['{"expires_after":{"seconds":3600}}']);
    expect(minted.token).toMatch(/^xai-realtime-/);
    expect(minted.expiresAt).toBe((nowSeconds() + 3600) * 1000);
    expect(minted.extra).toBeUndefined();
    expect(tokenUseOf(provider(), config)).toBe("reusable");
  });

  it("asks for 600 seconds when the config names none, as the SDK's call above does for its own", async () => {
    const minted = await provider().mint(parseConfig(provider(), {}), context());
    expect(bodies).toEqual(['{"expires_after":{"seconds":600}}']);
    expect(minted.expiresAt).toBe((nowSeconds() + 600) * 1000);
  });

  it("reaches the same endpoint from a base URL with /v1, as xAI's OpenAI-style examples write it", async () => {
    const sdkStyle = xai({ apiKey: API_KEY, baseUrl: `${server.url}/v1` });
    expect(sdkStyle.upstream.endpoint.href).toBe(`${server.url}/v1/realtime/client_secrets`);
    expect((await sdkStyle.mint(parseConfig(sdkStyle, {}), context())).token).toMatch(/^xai-realtime-/);
  });

  it("reads an expires_at given in milliseconds as milliseconds", async () => {
    const expiresAtMs = clock + 300_000;
    emulator.inject({ status: 200, body: JSON.stringify({ value: "xai-realtime-ms", expires_at: expiresAtMs }) });
    expect((await provider().mint(parseConfig(provider(), {}), context())).expiresAt).toBe(expiresAtMs);
  });

  it("classifies a wrong key as not worth retrying, and its message holds no key", async () => {
    const wrongKey = "xai-test-revoked-2b4d6f";
    const bad = xai({ apiKey: wrongKey, baseUrl: server.url });
    const error = await rejection(bad.mint(parseConfig(bad, {}), context()));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toBe("xAI answered 400: Incorrect API key provided. You can obtain an API key from https://console.x.ai.");
    expect(bad.upstream.classify(error)).toEqual({ retryable: false, retryAfterMs: undefined, errorType: "400" });
  });

  it("classifies a rate limit with Retry-After, and a server error, as worth retrying", async () => {
    emulator.inject({ status: 429, retryAfter: 12 }, { status: 500 });
    const limited = await rejection(provider().mint(parseConfig(provider(), {}), context()));
    expect(provider().upstream.classify(limited)).toEqual({ retryable: true, retryAfterMs: 12_000, errorType: "429" });
    const down = await rejection(provider().mint(parseConfig(provider(), {}), context()));
    expect(provider().upstream.classify(down)).toMatchObject({ retryable: true, errorType: "500" });
    expect((await provider().mint(parseConfig(provider(), {}), context())).token).toMatch(/^xai-realtime-/);
  });

  it("takes a 200 without a value, or in the nested shape of OpenAI's old beta, for an invalid answer", async () => {
    emulator.inject({ status: 200, body: "{}" }, { status: 200, body: JSON.stringify({ client_secret: { value: "xai-nested", expires_at: nowSeconds() + 600 } }) });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await rejection(provider().mint(parseConfig(provider(), {}), context()));
      expect(error).toBeInstanceOf(InvalidUpstreamResponse);
      expect(provider().upstream.classify(error).retryable).toBe(false);
    }
  });

  it("redacts the key from an upstream message that quotes it", async () => {
    // In process, so that the quoting answer never crosses a recorded socket.
    const apiKey = "xai-test-echoed-8e6c4a2f";
    const echoing = xai.emulated({ apiKey });
    echoing.emulator!.inject({ status: 503, body: JSON.stringify({ code: "unavailable", error: `overloaded for ${apiKey}` }) });
    const error = await rejection(echoing.mint(parseConfig(echoing, {}), context()));
    expect((error as Error).message).toBe("xAI answered 503: overloaded for [redacted]");
  });
});

describe("the config schema", () => {
  const schemaOwner = xai({ apiKey: API_KEY });

  function refusal(config: unknown): string {
    try {
      parseConfig(schemaOwner, config);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).detail;
    }
    return expect.unreachable("expected the config to be refused");
  }

  it("refuses a misspelt field and a session, naming each", () => {
    expect(refusal({ expiresAfter: 300 })).toMatch(/^expiresAfter: /);
    expect(refusal({ session: { model: "grok-voice-fast-1.0" } })).toMatch(/^session: /);
  });

  it("refuses an expiry outside 1..3600 seconds or not whole", () => {
    expect(refusal({ expiresAfterSeconds: 0 })).toBe("expiresAfterSeconds: must be at least 1");
    expect(refusal({ expiresAfterSeconds: 3601 })).toBe("expiresAfterSeconds: must be at most 3600");
    expect(refusal({ expiresAfterSeconds: 1.5 })).toBe("expiresAfterSeconds: must be a whole number of seconds");
  });

  it("the demo profile: a reusable client secret of 600 s", async () => {
    const { lifetimeSeconds, use } = await demoToken(xai.emulated(), xai.demo);
    expect(use).toBe("reusable");
    expect(lifetimeSeconds).toBeCloseTo(600, -1);
  });

  it("takes the demo config, and the in-process emulator mints from it", async () => {
    const emulated = xai.emulated();
    const minted = await emulated.mint(parseConfig(emulated, xai.demo), context());
    expect(minted.token).toMatch(/^xai-realtime-/);
    expect(minted.expiresAt - Date.now()).toBeGreaterThan(500_000);
    expect(emulated.emulator!.stats).toMatchObject({ mintRequests: 1, tokensIssued: 1 });
  });
});

describe("options and environment", () => {
  it("refuses a missing key, naming the option", () => {
    expect(() => xai({ apiKey: " " })).toThrow(OptionError);
    expect(() => xai({ apiKey: " " })).toThrow("xai(): apiKey");
  });

  it("is made from XAI_API_KEY and XAI_BASE_URL, or not at all without a key", () => {
    expect(xai.fromEnv({ OPENAI_API_KEY: API_KEY })).toBeUndefined();
    expect(xai.fromEnv({ XAI_API_KEY: API_KEY })!.upstream.endpoint.href).toBe("https://api.x.ai/v1/realtime/client_secrets");
    expect(xai.fromEnv({ XAI_API_KEY: API_KEY, XAI_BASE_URL: "https://api.x.ai/v1" })!.upstream.endpoint.href).toBe("https://api.x.ai/v1/realtime/client_secrets");
  });
});
