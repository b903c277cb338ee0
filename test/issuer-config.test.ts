import { describe, expect, it } from "vitest";
import { createProfile, createTokenHandler, createTokenIssuer, OptionError } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { livekit } from "../src/providers/livekit/index.ts";
import { openai } from "../src/providers/openai/index.ts";
import { digest } from "../src/canonical.ts";
import { memoryCache } from "../src/store/memory-cache.ts";
import type { CacheStore } from "../src/store/types.ts";

// How the issuer keys what it keeps: by the canonical JSON of what the token was minted for, with no
// raw user id, config or token in any key, and no prefix of its own (each store adds one).

const config = {
  name: "Cara",
  avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
  voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
  llmId: "ANAM_GPT_4O_MINI_V1",
  systemPrompt: "Keep answers short. Réponds en français si on te parle français.",
};

/** An issuer whose store tells every key written to it. */
function keyedIssuer() {
  const keys: string[] = [];
  const inner = memoryCache();
  const store: CacheStore = { ...inner, set: (key, value, ttlMs, linked) => (keys.push(key), inner.set(key, value, ttlMs, linked)) };
  return { issuer: createTokenIssuer({ store }), keys };
}

function setup() {
  const provider = anam.emulated();
  return { ...keyedIssuer(), provider, mints: () => provider.emulator!.stats.mintRequests };
}

describe("issuer keys", () => {
  it("keys the reuse cache by the digest of the canonical { client, config's digest, provider's digest, user }, unprefixed", async () => {
    const { issuer, keys, provider } = setup();
    const profile = createProfile("support", provider, config);
    // The provider instance by its name and identity: where its tokens come from, and its key's digest.
    const providerDigest = await digest({ identity: await provider.identity, name: "anam" });
    for (const [userId, clientId] of [["ünïcode user 🎭", "tab-1"], ['quo"te\\back \u2028\u0000', undefined]] as const) {
      const issued = await issuer.issue({ profile, userId, clientId });
      const reuse = `reuse:${await digest({ provider: providerDigest, config: await digest({ config, maxSessionSeconds: null }), user: userId, client: clientId ?? null })}`;
      expect(keys).toContain(reuse);
      expect(keys).toContain(`token:${await sha256(issued.token)}`);
    }
    for (const key of keys) expect(key).not.toMatch(/tollgate|ünïcode|quo|Cara|tab-1/);
  });

  it("gives two profiles with one config the same token, and two tabs of one user each their own", async () => {
    const { issuer, provider, mints } = setup();
    const support = createProfile("support", provider, config);
    const helpdesk = createProfile("helpdesk", provider, { ...config });
    const first = await issuer.issue({ profile: support, userId: "alice", clientId: "tab-1" });
    const again = await issuer.issue({ profile: helpdesk, userId: "alice", clientId: "tab-1" });
    expect(again).toMatchObject({ token: first.token, cacheHit: true, profile: "helpdesk" });
    const otherTab = await issuer.issue({ profile: support, userId: "alice", clientId: "tab-2" });
    const noTab = await issuer.issue({ profile: support, userId: "alice" });
    expect(new Set([first.token, otherTab.token, noTab.token]).size).toBe(3);
    expect(mints()).toBe(3);
  });

  it("never shares tokens between two provider instances, and keeps their secrets out of every key", async () => {
    const { issuer, keys } = keyedIssuer();
    // Two LiveKit servers with one key name and one room config: each token is for its own server.
    const room = { room: "standup", ttlSeconds: 600 };
    const [east, west] = ["wss://east.livekit.test", "wss://west.livekit.test"].map((url) => livekit({ apiKey: "APIshared", apiSecret: `${url}-secret-0123456789abcdef0123456789`, url }));
    const fromEast = await issuer.issue({ profile: createProfile("room", east!, room), userId: "alice" });
    const fromWest = await issuer.issue({ profile: createProfile("room", west!, room), userId: "alice" });
    expect(fromWest).toMatchObject({ cacheHit: false, extra: { serverUrl: "wss://west.livekit.test" } });
    expect(fromWest.token).not.toBe(fromEast.token);

    // Two OpenAI accounts on one base URL, one session config: each mints its own.
    const accounts = [openai.emulated(), openai.emulated()];
    const secrets = await Promise.all(accounts.map((account) => issuer.issue({ profile: createProfile("voice", account, openai.demo), userId: "alice" })));
    expect(secrets.map((secret) => secret.cacheHit)).toEqual([false, false]);
    expect(accounts.map((account) => account.emulator.stats.mintRequests)).toEqual([1, 1]);

    // The same instance still shares its tokens.
    expect(await issuer.issue({ profile: createProfile("room", east!, room), userId: "alice" })).toMatchObject({ token: fromEast.token, cacheHit: true });
    for (const key of keys) expect(key).not.toMatch(/APIshared|secret|livekit\.test|emulator-/);
  });

  it("gives a profile capped shorter its own tokens: the session ceiling is part of what the token was minted for", async () => {
    const { issuer, provider, mints } = setup();
    const capped = createProfile("short", provider, config, { maxSessionSeconds: 60 });
    const uncapped = createProfile("long", provider, config);
    const long = await issuer.issue({ profile: uncapped, userId: "alice" });
    const short = await issuer.issue({ profile: capped, userId: "alice" });
    expect(short.cacheHit).toBe(false);
    expect(short.token).not.toBe(long.token);
    expect(await issuer.issue({ profile: createProfile("short-too", provider, config, { maxSessionSeconds: 60 }), userId: "alice" })).toMatchObject({ token: short.token, cacheHit: true });
    expect(mints()).toBe(2);
  });

  it("refuses a reuse margin that is negative or not a finite number, naming reuse.marginMs", () => {
    for (const marginMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, "600000"]) {
      expect(() => createTokenIssuer({ reuse: { marginMs } as { marginMs: number } })).toThrow(OptionError);
      expect(() => createTokenIssuer({ reuse: { marginMs } as { marginMs: number } })).toThrow(/reuse\.marginMs/);
      expect(() => createTokenHandler({ provider: anam.emulated(), personas: { support: config }, authenticate: () => null, reuse: { marginMs } as { marginMs: number } })).toThrow(/reuse\.marginMs/);
    }
    expect(() => createTokenIssuer({ reuse: "yes" as unknown as false })).toThrow(/reuse: must be/);
    expect(() => createTokenIssuer({ maxSessionSeconds: -5 })).toThrow(/maxSessionSeconds/);
    expect(() => createTokenIssuer({ reuse: { marginMs: 0 } })).not.toThrow();
  });

  it("checks a profile's config once, when the profile is made, and refuses a bad one there, naming it", () => {
    const { provider } = setup();
    expect(() => createProfile("support", provider, { ...config, voiceId: "not a uuid" })).toThrow(/profile "support": config: voiceId: must be a UUID/);
    expect(() => createProfile("my persona!", provider, config)).toThrow(/"my persona!" can never be requested/);
    // A config with no JSON form cannot be part of a reuse key: refused here, not on a request.
    expect(() => createProfile("support", provider, { ...config, systemPrompt: "half \ud800 a pair" })).toThrow(/profile "support": config: has no JSON form/);
  });
});

async function sha256(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
