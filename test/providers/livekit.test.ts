import { decodeJwt, decodeProtectedHeader } from "jose";
import { AccessToken, TokenVerifier } from "livekit-server-sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { OptionError, ValidationError } from "../../src/errors.ts";
import { parseConfig, type MintContext } from "../../src/provider.ts";
import { createLiveKitEmulator, livekit, type LiveKitConfigInput, type LiveKitProvider } from "../../src/providers/livekit/index.ts";
import { closeAll, listen } from "../support/servers.ts";
import { demoToken } from "./demo-token.ts";

// Our room tokens against livekit-server-sdk's own TokenVerifier and AccessToken, and against the
// emulator that stands in for a LiveKit server's token check on a loopback port.

const API_KEY = "APIz7Qk2Lm9Wx4";
const API_SECRET = "lk_secret_test_c91e5b7f2a0d4e8b6a3f1c9d7e5b3a1f";
const IDENTITY = "user-ada";

const CONFIG: LiveKitConfigInput = {
  room: "support-42",
  ttlSeconds: 900,
  grants: { canPublish: true, canSubscribe: true, canPublishData: false, canPublishSources: ["microphone", "camera"] },
  name: "Ada",
  metadata: '{"plan":"pro"}',
};

let serverUrl: string;
let provider: LiveKitProvider;
beforeAll(async () => {
  const emulator = createLiveKitEmulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  ({ url: serverUrl } = await listen("livekit-emulator", emulator.fetch));
  provider = livekit({ apiKey: API_KEY, apiSecret: API_SECRET, url: serverUrl });
});
afterEach(() => void vi.useRealTimers());
afterAll(closeAll);

function context(id = IDENTITY): MintContext {
  return { signal: new AbortController().signal, user: { id } };
}

async function mint(config: LiveKitConfigInput = CONFIG, p: LiveKitProvider = provider, id = IDENTITY) {
  return p.mint(parseConfig(p, config), context(id));
}

/** A token minted as if it were two hours ago, so that its `exp` has passed. */
async function expiredToken() {
  vi.useFakeTimers({ toFake: ["Date"], now: Date.now() - 2 * 60 * 60 * 1000 });
  const { token } = await mint();
  vi.useRealTimers();
  return token;
}

/** What a LiveKit server's token check answers, as livekit-client asks it when a connection fails. */
async function validate(token: string, path = "/rtc/validate") {
  const response = await fetch(`${serverUrl}${path}?access_token=${encodeURIComponent(token)}`);
  await response.body?.cancel();
  return response.status;
}

describe("our tokens under livekit-server-sdk", () => {
  it("TokenVerifier accepts them and reads identity, room and grants as we set them", async () => {
    const { token } = await mint();
    const claims = await new TokenVerifier(API_KEY, API_SECRET).verify(token);
    expect(claims.sub).toBe(IDENTITY);
    expect(claims.iss).toBe(API_KEY);
    expect(claims.name).toBe("Ada");
    expect(claims.metadata).toBe('{"plan":"pro"}');
    expect(claims.video).toEqual({
      room: "support-42",
      roomJoin: true,
      canPublish: true,
      canSubscribe: true,
      canPublishData: false,
      canPublishSources: ["microphone", "camera"],
    });
    expect(claims.exp! - claims.nbf!).toBe(900);
  });

  it("TokenVerifier refuses an expired token and a token signed with another secret", async () => {
    await expect(new TokenVerifier(API_KEY, API_SECRET).verify(await expiredToken())).rejects.toThrow(/exp/);
    const other = livekit({ apiKey: API_KEY, apiSecret: "another-secret-entirely-0123456789", url: serverUrl });
    await expect(new TokenVerifier(API_KEY, API_SECRET).verify((await mint(CONFIG, other)).token)).rejects.toThrow(/signature/);
    await expect(new TokenVerifier("APIotherkey", API_SECRET).verify((await mint()).token)).rejects.toThrow(/iss/);
  });

  it("carries the same claims as AccessToken's JWT for the same inputs", async () => {
    const { token: ours } = await mint();
    const sdk = new AccessToken(API_KEY, API_SECRET, { identity: IDENTITY, ttl: 900, name: "Ada", metadata: '{"plan":"pro"}' });
    sdk.addGrant({ room: "support-42", roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: false });
    const theirs = await sdk.toJwt();
    const withoutTimes = (token: string) => {
      const { nbf, exp, ...claims } = decodeJwt(token);
      return { claims, lifetime: exp! - nbf! };
    };
    // AccessToken takes TrackSource enums for canPublishSources; the JWT holds their names, as ours does.
    const { canPublishSources, ...ourVideo } = decodeJwt(ours).video as Record<string, unknown>;
    expect(canPublishSources).toEqual(["microphone", "camera"]);
    expect({ ...withoutTimes(ours), claims: { ...withoutTimes(ours).claims, video: ourVideo } }).toEqual(withoutTimes(theirs));
    expect(decodeProtectedHeader(ours)).toEqual(decodeProtectedHeader(theirs));
  });

  it("gives the expiry of the exp claim, the server URL in extra, and a 600 s default", async () => {
    const minted = await mint({ room: "lobby" });
    const { exp, nbf } = decodeJwt(minted.token);
    expect(minted.expiresAt).toBe(exp! * 1000);
    expect(exp! - nbf!).toBe(600);
    expect(minted.extra).toEqual({ serverUrl });
    expect(decodeJwt(minted.token).video).toEqual({ room: "lobby", roomJoin: true });
  });

  it("signs without touching the network, and has no upstream", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    try {
      await mint();
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
    expect(provider.upstream).toBeUndefined();
    expect(provider.tokenUse).toBe("reusable");
  });
});

describe("the emulator's token check", () => {
  it("answers 200 for our token and the SDK's, on both paths livekit-client asks", async () => {
    const { token } = await mint();
    expect(await validate(token)).toBe(200);
    expect(await validate(token, "/rtc/v1/validate")).toBe(200);
    // Reusable: the same token passes again.
    expect(await validate(token)).toBe(200);
    const sdk = new AccessToken(API_KEY, API_SECRET, { identity: "bob" });
    sdk.addGrant({ room: "support-42", roomJoin: true });
    expect(await validate(await sdk.toJwt())).toBe(200);
  });

  it("answers 401 for an expired token, another secret, another key, no join grant, or no token", async () => {
    expect(await validate(await expiredToken())).toBe(401);
    const otherSecret = livekit({ apiKey: API_KEY, apiSecret: "another-secret-entirely-0123456789", url: serverUrl });
    expect(await validate((await mint(CONFIG, otherSecret)).token)).toBe(401);
    const otherKey = livekit({ apiKey: "APIotherkey", apiSecret: API_SECRET, url: serverUrl });
    expect(await validate((await mint(CONFIG, otherKey)).token)).toBe(401);
    const listOnly = new AccessToken(API_KEY, API_SECRET, { identity: "bob" });
    listOnly.addGrant({ roomList: true });
    expect(await validate(await listOnly.toJwt())).toBe(401);
    const response = await fetch(`${serverUrl}/rtc/validate`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: "no access_token given" });
  });

  it("answers an injected fault with its Retry-After", async () => {
    const p = livekit.emulated();
    const { url } = await listen("livekit-emulator", p.emulator!.fetch);
    const { token } = await mint(CONFIG, p);
    p.emulator!.inject({ status: 503, retryAfter: 5 });
    const faulted = await fetch(`${url}/rtc/validate?access_token=${token}`);
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get("Retry-After")).toBe("5");
    await faulted.body?.cancel();
    const fine = await fetch(`${url}/rtc/validate?access_token=${token}`);
    expect(fine.status).toBe(200);
    await fine.body?.cancel();
  });
});

describe("config schema and options", () => {
  it("refuses a typo'd field, and admin grants, with a message naming them", () => {
    expect(() => parseConfig(provider, { room: "a", ttlSecond: 60 })).toThrow(ValidationError);
    expect(() => parseConfig(provider, { room: "a", ttlSecond: 60 })).toThrow(/ttlSecond/);
    expect(() => parseConfig(provider, { room: "a", grants: { roomAdmin: true } })).toThrow(/grants\.roomAdmin/);
    expect(() => parseConfig(provider, { room: "" })).toThrow(/room/);
    expect(() => parseConfig(provider, { room: "a", ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(() => parseConfig(provider, livekit.demo)).not.toThrow();
  });

  it("the demo profile: a reusable room token of 600 s", async () => {
    const { lifetimeSeconds, use } = await demoToken(livekit.emulated(), livekit.demo);
    expect(use).toBe("reusable");
    expect(lifetimeSeconds).toBeCloseTo(600, -1);
  });

  it("refuses missing options by name, never repeating the secret", () => {
    expect(() => livekit({ apiKey: API_KEY, apiSecret: "", url: serverUrl })).toThrow(/apiSecret/);
    expect(() => livekit({ apiKey: API_KEY, apiSecret: API_SECRET, url: "ftp://example.test" })).toThrow(/url/);
    let message = "";
    try {
      livekit({ apiKey: API_KEY, apiSecret: API_SECRET, url: `wss://${API_SECRET}:x@example.test` });
    } catch (error) {
      expect(error).toBeInstanceOf(OptionError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/credentials/);
    expect(message).not.toContain(API_SECRET);
    expect(provider.redact(`secret ${API_SECRET} key ${API_KEY}`)).toBe("secret [redacted] key [redacted]");
  });

  it("is made from LIVEKIT_API_KEY, LIVEKIT_API_SECRET and LIVEKIT_URL", async () => {
    expect(livekit.fromEnv({})).toBeUndefined();
    expect(() => livekit.fromEnv({ LIVEKIT_API_KEY: API_KEY, LIVEKIT_URL: serverUrl })).toThrow(/LIVEKIT_API_SECRET/);
    expect(() => livekit.fromEnv({ LIVEKIT_API_KEY: API_KEY, LIVEKIT_API_SECRET: API_SECRET })).toThrow(/LIVEKIT_URL/);
    // A bad URL is named by its variable, with or without a key, and never repeated.
    for (const env of [{ LIVEKIT_URL: "ftp://pw-9f2c@example.test" }, { LIVEKIT_API_KEY: API_KEY, LIVEKIT_API_SECRET: API_SECRET, LIVEKIT_URL: "ftp://pw-9f2c@example.test" }]) {
      expect(() => livekit.fromEnv(env)).toThrow(/^LIVEKIT_URL: must be a ws\(s\) or http\(s\) URL$/);
    }
    expect(livekit.fromEnv.variables).toEqual(["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_URL"]);
    const fromEnv = livekit.fromEnv({ LIVEKIT_API_KEY: API_KEY, LIVEKIT_API_SECRET: API_SECRET, LIVEKIT_URL: serverUrl })!;
    const { token, extra } = await mint(CONFIG, fromEnv);
    expect(extra?.serverUrl).toBe(serverUrl);
    expect(await validate(token)).toBe(200);
  });
});
