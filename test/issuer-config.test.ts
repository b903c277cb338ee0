import { describe, expect, it } from "vitest";
import { anam, createTokenIssuer } from "../src/index.ts";
import { createAnamEmulator } from "../src/emulator/index.ts";
import { digest } from "../src/canonical.ts";
import { memoryCache } from "../src/store/memory-cache.ts";
import type { CacheStore } from "../src/store/types.ts";

// How the issuer treats the persona config it is given: checked on every request unless it can
// never change, and keyed in the reuse cache by its canonical JSON either way.

const config = {
  name: "Cara",
  avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
  voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
  llmId: "ANAM_GPT_4O_MINI_V1",
  systemPrompt: "Keep answers short. Réponds en français si on te parle français.",
};

function setup() {
  const emulator = createAnamEmulator({ apiKey: "test" });
  const provider = anam({ apiKey: "test", fetch: (input, init) => emulator.fetch(new Request(input, init)) });
  let parses = 0;
  const counted = { ...provider, parseConfig: (input: unknown) => (parses++, provider.parseConfig(input)) };
  const keys: string[] = [];
  const inner = memoryCache();
  const store: CacheStore = { ...inner, set: (key, value, ttlMs) => (keys.push(key), inner.set(key, value, ttlMs)) };
  const issuer = createTokenIssuer({ provider: counted, store });
  return { issuer, keys, parses: () => parses, mints: () => emulator.stats.mintRequests };
}

function deepFreeze<T extends object>(value: T): T {
  for (const item of Object.values(value)) if (typeof item === "object" && item !== null) deepFreeze(item);
  return Object.freeze(value);
}

describe("issuer configs", () => {
  it("keys the reuse cache by the digest of the canonical { provider, config, user }", async () => {
    const { issuer, keys } = setup();
    await issuer.issue({ config, userId: "ünïcode user" });
    const expected = `tollgate:reuse:${await digest({ provider: "anam", config, user: "ünïcode user" })}`;
    expect(keys).toContain(expected);
  });

  it("gives a frozen config and an equal unfrozen one the same token", async () => {
    const { issuer, mints } = setup();
    const first = await issuer.issue({ config: deepFreeze({ ...config }), userId: "alice" });
    const second = await issuer.issue({ config: { ...config }, userId: "alice" });
    expect(second.token).toBe(first.token);
    expect(second.cacheHit).toBe(true);
    expect(mints()).toBe(1);
  });

  it("checks a deeply frozen config once, and any other config on every request", async () => {
    const { issuer, parses } = setup();
    const frozen = deepFreeze({ ...config });
    for (let i = 0; i < 3; i++) await issuer.issue({ config: frozen, userId: "alice" });
    expect(parses()).toBe(1);
    const open = { ...config };
    for (let i = 0; i < 3; i++) await issuer.issue({ config: open, userId: "alice" });
    expect(parses()).toBe(4);
  });

  it("sees a change to a config that is not frozen", async () => {
    const { issuer, mints } = setup();
    const open: Record<string, unknown> = { ...config };
    const first = await issuer.issue({ config: open, userId: "alice" });
    open.systemPrompt = "Something else entirely.";
    const second = await issuer.issue({ config: open, userId: "alice" });
    expect(second.token).not.toBe(first.token);
    expect(mints()).toBe(2);
    open.voiceId = "not a uuid";
    await expect(issuer.issue({ config: open, userId: "alice" })).rejects.toThrow(/voiceId/);
  });
});
