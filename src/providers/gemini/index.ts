import { InvalidUpstreamResponse } from "../../errors.ts";
import type { MintContext, MintedToken } from "../../provider.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, stringField, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { createGeminiEmulator, type GeminiEmulator, type GeminiEmulatorOptions } from "./emulator.ts";
import { geminiConfigSchema, type GeminiConfig, type GeminiConfigInput } from "./schema.ts";
import { authTokenBody, type AuthTokenBody, type TokenWindow } from "./wire.ts";

/**
 * tollgate/gemini: ephemeral tokens for the Gemini Live API. A profile's config is what
 * `authTokens.create` of `@google/genai` takes, with lifetimes instead of instants;
 * `POST {baseUrl}/v1alpha/auth_tokens` with `x-goog-api-key` answers `{ name: "auth_tokens/..." }`,
 * and the name is the token: the browser passes it as its API key (with `apiVersion: "v1alpha"`)
 * and opens the constrained Live endpoint with it. SOURCES.md says where each fact comes from.
 */

export interface GeminiOptions extends HttpProviderOptions {
  /** Default `https://generativelanguage.googleapis.com`. */
  baseUrl?: string | URL;
}

export type GeminiProvider = HttpProvider<GeminiConfig, GeminiConfigInput> & { readonly emulator?: GeminiEmulator };

const API_VERSION = "v1alpha";

export function gemini(options: GeminiOptions): GeminiProvider {
  return defineHttpProvider(
    {
      name: "gemini",
      label: "Gemini",
      defaultBaseUrl: "https://generativelanguage.googleapis.com",
      path: `/${API_VERSION}/auth_tokens`,
      method: "POST",
      config: geminiConfigSchema,
      // A token with a number of uses cannot go to any number of sessions, and the reuse cache counts
      // one start per token, not per session: so any finite `uses` is handed out as single-use.
      tokenUse: (config) => (config.uses === 0 ? "reusable" : "single-use"),
      // `expireTime`, lowered to the ceiling, ends the session's messages (counted from the mint).
      enforcesSessionCeiling: () => ({ minSeconds: 1 }),
      authHeaders: (apiKey) => ({ "x-goog-api-key": apiKey }),
      request: (config, context) => ({ body: authTokenBody(config, tokenWindow(config, context, Date.now())) }),
      // The answer states no expiry: the instants are the ones this mint asked for.
      read: (body, { config, sent }) => readToken(body, config, sent.body as AuthTokenBody),
      errorMessage: googleErrorMessage,
    },
    options,
  );
}

/**
 * A Gemini provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
gemini.emulated = (options: Partial<GeminiEmulatorOptions> & Omit<GeminiOptions, "apiKey" | "baseUrl" | "fetch"> = {}): GeminiProvider & { emulator: GeminiEmulator } => onEmulator("gemini", gemini, createGeminiEmulator, options);

/** The demo profile's config: one voice session, its model and instructions fixed by the server. */
gemini.demo = {
  uses: 1,
  expireSeconds: 1800,
  newSessionExpireSeconds: 60,
  liveConnectConstraints: {
    model: "gemini-live-2.5-flash-preview",
    config: { responseModalities: ["AUDIO"], systemInstruction: "You are a friendly assistant. Keep your answers short." },
  },
  lockAdditionalFields: [],
} satisfies GeminiConfigInput;

/** The provider from `GEMINI_API_KEY` and `GEMINI_BASE_URL`, or undefined when no key is set. */
gemini.fromEnv = httpFromEnv<GeminiProvider>("GEMINI", gemini);

/**
 * When the token's sessions must end (`expireTime`, lowered to the app's session ceiling) and when
 * it can start none (`newSessionExpireTime`): never after the end, since a session started then
 * would have its first message refused.
 */
export function tokenWindow(config: GeminiConfig, context: Pick<MintContext, "maxSessionSeconds">, now: number): TokenWindow {
  const ceiling = context.maxSessionSeconds;
  const sessionSeconds = ceiling === undefined ? config.expireSeconds : Math.max(1, Math.min(config.expireSeconds, ceiling));
  return {
    expireAt: now + sessionSeconds * 1000,
    newSessionExpireAt: now + Math.min(config.newSessionExpireSeconds, sessionSeconds) * 1000,
  };
}

function readToken(body: unknown, config: GeminiConfig, sent: AuthTokenBody): Omit<MintedToken, "status"> {
  const token = stringField(body, "name");
  if (!token?.startsWith("auth_tokens/")) throw new InvalidUpstreamResponse("Gemini answered 200 without an auth_tokens/ name");
  const extra: Record<string, string> = { apiVersion: API_VERSION, sessionExpiresAt: sent.expireTime };
  const model = config.liveConnectConstraints?.model;
  if (model) extra.model = model;
  return { token, expiresAt: Date.parse(sent.newSessionExpireTime), extra };
}

/** `STATUS: message` from Google's `{ error: { code, message, status } }`. */
function googleErrorMessage(body: unknown): string | undefined {
  const message = stringField(body, "error", "message");
  const status = stringField(body, "error", "status");
  if (message === undefined) return status;
  return status ? `${status}: ${message}` : message;
}

export { createGeminiEmulator, googleErrorBody, type GeminiEmulator, type GeminiEmulatorOptions } from "./emulator.ts";
export { geminiConfigSchema, type GeminiConfig, type GeminiConfigInput, type LiveConnectConfig, type LiveConnectConstraints } from "./schema.ts";
export { authTokenBody, fieldMask, liveSetup, type AuthTokenBody, type TokenWindow } from "./wire.ts";
