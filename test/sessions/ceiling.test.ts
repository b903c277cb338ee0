/**
 * The session-length ceiling, per provider, where the provider suites do not already show it:
 * Anam gets it in the persona (lowering the persona's own, never raising it; a stateful persona's
 * length is set on Anam's side), and the providers with no field for it send the same request with
 * or without one. Gemini, AssemblyAI, LiveAvatar, Deepgram, OpenAI and xAI have theirs in
 * test/providers/.
 */
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { createProfile, createTokenIssuer, parseConfig, type MintContext, type Provider } from "../../src/index.ts";
import { createAssemblyAIEmulator } from "../../src/providers/assemblyai/emulator.ts";
import { assemblyai } from "../../src/providers/assemblyai/index.ts";
import { createAnamEmulator } from "../../src/providers/anam/emulator.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { createElevenLabsEmulator } from "../../src/providers/elevenlabs/emulator.ts";
import { elevenlabs } from "../../src/providers/elevenlabs/index.ts";
import { livekit } from "../../src/providers/livekit/index.ts";
import { PERSONAS } from "../support/personas.ts";
import { TEST_API_KEY } from "../support/servers.ts";

const context = (maxSessionSeconds?: number): MintContext => ({ signal: AbortSignal.timeout(10_000), user: { id: "user-1" }, ...(maxSessionSeconds !== undefined ? { maxSessionSeconds } : {}) });

/** What the provider sends upstream: every request body its fetch is handed, answered by the real emulator. */
function recording<P extends Provider<any, any>>(make: (fetch: typeof globalThis.fetch) => P, answer: (request: Request) => Promise<Response>) {
  const bodies: unknown[] = [];
  const urls: string[] = [];
  const provider = make(async (input, init) => {
    const request = new Request(input, init);
    urls.push(request.url);
    const text = await request.clone().text();
    bodies.push(text ? JSON.parse(text) : undefined);
    return answer(request);
  });
  return { provider, bodies, urls };
}

describe("the session-length ceiling, Anam", () => {
  const emulator = createAnamEmulator({ apiKey: TEST_API_KEY });
  const sent = async (config: unknown, maxSessionSeconds?: number) => {
    const { provider, bodies } = recording((fetch) => anam({ apiKey: TEST_API_KEY, baseUrl: "http://anam.test", fetch }), (request) => emulator.fetch(request));
    await provider.mint(parseConfig(provider, config), context(maxSessionSeconds));
    return (bodies[0] as { personaConfig: Record<string, unknown> }).personaConfig;
  };

  it("lowers an ephemeral persona's maxSessionLengthSeconds to the ceiling, and never raises it", async () => {
    expect((await sent({ ...PERSONAS.support, maxSessionLengthSeconds: 1800 }, 600)).maxSessionLengthSeconds).toBe(600);
    expect((await sent({ ...PERSONAS.support, maxSessionLengthSeconds: 300 }, 600)).maxSessionLengthSeconds).toBe(300);
    expect((await sent(PERSONAS.support, 900)).maxSessionLengthSeconds).toBe(900);
    expect(await sent(PERSONAS.support)).not.toHaveProperty("maxSessionLengthSeconds");
  });

  it("leaves a stateful persona as it is: its length is set where the persona lives", async () => {
    const personaId = "4f5d1c2e-8a9b-4c3d-9e1f-2a3b4c5d6e7f";
    const withPersona = createAnamEmulator({ apiKey: TEST_API_KEY, personaIds: [personaId] });
    const { provider, bodies } = recording((fetch) => anam({ apiKey: TEST_API_KEY, baseUrl: "http://anam.test", fetch }), (request) => withPersona.fetch(request));
    await provider.mint(parseConfig(provider, { personaId }), context(600));
    expect((bodies[0] as { personaConfig: unknown }).personaConfig).toEqual({ personaId });
  });
});

describe("the session-length ceiling, providers with no field for it", () => {
  it("ElevenLabs asks for the same token with or without one", async () => {
    const emulator = createElevenLabsEmulator({ apiKey: TEST_API_KEY });
    const make = () => recording((fetch) => elevenlabs({ apiKey: TEST_API_KEY, baseUrl: "http://elevenlabs.test", fetch }), (request) => emulator.fetch(request));
    const plain = make();
    const capped = make();
    const config = elevenlabs.demo;
    await plain.provider.mint(parseConfig(plain.provider, config), context());
    await capped.provider.mint(parseConfig(capped.provider, config), context(60));
    expect(plain.urls).toHaveLength(1);
    expect(capped.urls).toEqual(plain.urls);
    expect(capped.bodies).toEqual(plain.bodies);
  });

  it("LiveKit signs the same claims with or without one: a room token bounds joining, not a session's length", async () => {
    const provider = livekit.emulated();
    const config = parseConfig(provider, livekit.demo);
    const claims = async (maxSessionSeconds?: number) => {
      const { iat, nbf, exp, jti, ...rest } = decodeJwt((await provider.mint(config, context(maxSessionSeconds))).token) as Record<string, unknown>;
      return { lifetime: (exp as number) - (nbf as number ?? iat as number), ...rest };
    };
    expect(await claims(60)).toEqual(await claims());
  });
});

describe("the session-length ceiling through the issuer", () => {
  const anamEmulator = createAnamEmulator({ apiKey: TEST_API_KEY });
  const assemblyEmulator = createAssemblyAIEmulator({ apiKey: TEST_API_KEY });
  const anamSent = async (options: { issuer?: number; profile?: number }) => {
    const { provider, bodies } = recording((fetch) => anam({ apiKey: TEST_API_KEY, baseUrl: "http://anam.test", fetch }), (request) => anamEmulator.fetch(request));
    const issuer = createTokenIssuer({ maxSessionSeconds: options.issuer });
    await issuer.issue({ profile: createProfile("support", provider, PERSONAS.support, { maxSessionSeconds: options.profile }), userId: "user-1" });
    return (bodies[0] as { personaConfig: Record<string, unknown> }).personaConfig.maxSessionLengthSeconds;
  };

  it("sends an hour where neither the app nor the profile set a ceiling, as the lease's own maximum", async () => {
    expect(await anamSent({})).toBe(3600);
    const { provider, urls } = recording((fetch) => assemblyai({ apiKey: TEST_API_KEY, baseUrl: "http://assemblyai.test", fetch }), (request) => assemblyEmulator.fetch(request));
    await createTokenIssuer().issue({ profile: createProfile("captions", provider, assemblyai.demo), userId: "user-1" });
    expect(new URL(urls[0]!).searchParams.get("max_session_duration_seconds")).toBe("3600");
  });

  it("sends the issuer's ceiling, lowered by the profile's own", async () => {
    expect(await anamSent({ issuer: 900 })).toBe(900);
    expect(await anamSent({ issuer: 900, profile: 60 })).toBe(60);
  });
});
