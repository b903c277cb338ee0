import { describe, expect, it } from "vitest";
import { createProfile, createTokenIssuer } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
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

function setup() {
  const provider = anam.emulated();
  const keys: string[] = [];
  const inner = memoryCache();
  const store: CacheStore = { ...inner, set: (key, value, ttlMs, linked) => (keys.push(key), inner.set(key, value, ttlMs, linked)) };
  const issuer = createTokenIssuer({ store });
  return { issuer, keys, provider, mints: () => provider.emulator!.stats.mintRequests };
}

describe("issuer keys", () => {
  it("keys the reuse cache by the digest of the canonical { client, config's digest, provider, user }, unprefixed", async () => {
    const { issuer, keys, provider } = setup();
    const profile = createProfile("support", provider, config);
    for (const [userId, clientId] of [["ünïcode user 🎭", "tab-1"], ['quo"te\\back \u2028\u0000', undefined]] as const) {
      const issued = await issuer.issue({ profile, userId, clientId });
      const reuse = `reuse:${await digest({ provider: "anam", config: await digest(config), user: userId, client: clientId ?? null })}`;
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
