/**
 * Compiled by typed-options.test.ts (and by `npm run typecheck`): each `@ts-expect-error` marks a
 * mistake that tsc must refuse. An unused directive is itself an error, so a check that stopped
 * working fails the build.
 */
import { Hono } from "hono";
import { mountSessionTokens } from "../../adapters/hono.ts";
import { createTokenHandler } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { openai } from "../../src/providers/openai/index.ts";

const authenticate = () => ({ id: "u" });
const persona = { name: "Cara", avatarId: "a", voiceId: "v", llmId: "l", systemPrompt: "Hi" };

createTokenHandler({
  authenticate,
  provider: anam.emulated(),
  // @ts-expect-error systemPromt is not a field of an Anam persona
  personas: { support: { ...persona, systemPromt: "typo" } },
});

createTokenHandler({
  authenticate,
  profiles: {
    // @ts-expect-error avatarID is not a field of an Anam persona
    support: { provider: anam.emulated(), config: { name: "Cara", avatarID: "a", voiceId: "v", llmId: "l" } },
    // @ts-expect-error sesion is not a field of an OpenAI profile
    tutor: { provider: openai.emulated(), config: { sesion: { type: "realtime", model: "gpt-realtime" } } },
  },
});

// The right spellings compile.
createTokenHandler({ authenticate, profiles: { support: { provider: anam.emulated(), config: persona } } });

const app = new Hono<{ Variables: { user: { id: string; plan: "free" | "pro" } } }>();
// @ts-expect-error plann is not a property of the app's user
mountSessionTokens(app, { provider: anam.emulated(), personas: { support: persona }, authorize: (user) => user.plann === "pro" });
mountSessionTokens(app, { provider: anam.emulated(), personas: { support: persona }, authorize: (user) => user.plan === "pro" });
