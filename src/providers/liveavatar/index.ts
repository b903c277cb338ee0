import { InvalidUpstreamResponse } from "../../errors.ts";
import { DEFAULT_MAX_SESSION_SECONDS, type MintContext } from "../../provider.ts";
import { claimedExpiry } from "../../token-claims.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, stringField, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { createLiveAvatarEmulator, type LiveAvatarEmulator, type LiveAvatarEmulatorOptions } from "./emulator.ts";
import { sessionConfigSchema, toWireBody, type LiveAvatarConfig, type LiveAvatarConfigInput } from "./schema.ts";

/**
 * tollgate/liveavatar: session tokens for HeyGen's LiveAvatar. A profile's config is a FULL-mode
 * session config; `POST {baseUrl}/v1/sessions/token` with `X-API-KEY` answers
 * `{ code, data: { session_id, session_token }, message }`. The browser starts the session once with
 * the token (`POST /v1/sessions/start`), so a token is single-use. SOURCES.md says where each fact
 * comes from.
 */

export interface LiveAvatarOptions extends HttpProviderOptions {
  /** Default `https://api.liveavatar.com`. */
  baseUrl?: string | URL;
}

export type LiveAvatarProvider = HttpProvider<LiveAvatarConfig, LiveAvatarConfigInput> & { readonly emulator?: LiveAvatarEmulator };

/**
 * How long a token is handed out for. LiveAvatar documents no lifetime for an unstarted token, and
 * the token also authenticates the running session (keep-alive, stop), so whatever `exp` it carries
 * may be the session's end rather than the window to start it. Five minutes covers a page that
 * starts its session at once, and keeps a cached token from being handed out long after LiveAvatar
 * may have given up on its session.
 */
export const HANDOUT_LIFETIME_MS = 5 * 60 * 1000;

export function liveavatar(options: LiveAvatarOptions): LiveAvatarProvider {
  return defineHttpProvider(
    {
      name: "liveavatar",
      label: "LiveAvatar",
      defaultBaseUrl: "https://api.liveavatar.com",
      path: "/v1/sessions/token",
      method: "POST",
      config: sessionConfigSchema,
      tokenUse: "single-use",
      enforcesSessionCeiling: () => ({ minSeconds: 1 }),
      authHeaders: (apiKey) => ({ "X-API-KEY": apiKey }),
      request: (config, context) => ({ body: toWireBody(withSessionCeiling(config, context)) }),
      read: (body, { mintedAt }) => {
        const token = stringField(body, "data", "session_token");
        if (!token) throw new InvalidUpstreamResponse("LiveAvatar answered 200 without data.session_token");
        const sessionId = stringField(body, "data", "session_id");
        return { token, expiresAt: expiryOf(token, mintedAt), ...(sessionId ? { extra: { sessionId } } : {}) };
      },
      errorMessage: liveAvatarErrorMessage,
    },
    options,
  );
}

/**
 * A LiveAvatar provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
liveavatar.emulated = (options: Partial<LiveAvatarEmulatorOptions> & Omit<LiveAvatarOptions, "apiKey" | "baseUrl" | "fetch"> = {}): LiveAvatarProvider & { emulator: LiveAvatarEmulator } => onEmulator("liveavatar", liveavatar, createLiveAvatarEmulator, options);

/** The demo profile's config for the standalone server on the emulator: a sandbox session of ten minutes. */
liveavatar.demo = {
  avatarId: "00000000-0000-4000-8000-000000000001",
  mode: "FULL",
  isSandbox: true,
  maxSessionDuration: 600,
  avatarPersona: { voiceId: "00000000-0000-4000-8000-000000000002", contextId: "00000000-0000-4000-8000-000000000003", language: "en" },
} satisfies LiveAvatarConfigInput;

/** The provider from `LIVEAVATAR_API_KEY` and `LIVEAVATAR_BASE_URL`, or undefined when no key is set. */
liveavatar.fromEnv = httpFromEnv<LiveAvatarProvider>("LIVEAVATAR", liveavatar);

/**
 * `maxSessionDuration` lowered to the app's ceiling, never raised. A config without one is sent the
 * ceiling only when it is under the default hour: LiveAvatar refuses a duration above the plan's
 * own limit, which may be under an hour, so an app that set nothing keeps its plan's limit rather
 * than having every mint refused.
 */
function withSessionCeiling(config: LiveAvatarConfig, context: MintContext): LiveAvatarConfig {
  const ceiling = context.maxSessionSeconds;
  if (ceiling === undefined) return config;
  const own = config.maxSessionDuration;
  if (own === undefined) return ceiling < DEFAULT_MAX_SESSION_SECONDS ? { ...config, maxSessionDuration: ceiling } : config;
  return { ...config, maxSessionDuration: Math.min(own, ceiling) };
}

/** The earlier of the token's own `exp` and the hand-out lifetime from when it arrived. */
export function expiryOf(token: string, mintedAt: number): number {
  const handout = mintedAt + HANDOUT_LIFETIME_MS;
  const claimed = claimedExpiry(token);
  return claimed === undefined ? handout : Math.min(claimed, handout);
}

/** `message`, and the first problem of a validation error's `data` list. */
function liveAvatarErrorMessage(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { message, data } = body as { message?: unknown; data?: unknown };
  const first = Array.isArray(data) ? (data[0] as { message?: unknown; loc?: unknown } | undefined) : undefined;
  const detail = typeof first?.message === "string" ? `${Array.isArray(first.loc) ? `${first.loc.join(".")}: ` : ""}${first.message}` : undefined;
  if (typeof message === "string" && detail) return `${message}: ${detail}`;
  return typeof message === "string" ? message : detail;
}

export { createLiveAvatarEmulator, SUCCESS_CODE, type LiveAvatarEmulator, type LiveAvatarEmulatorOptions } from "./emulator.ts";
export { sessionConfigSchema, toWireBody, type LiveAvatarConfig, type LiveAvatarConfigInput } from "./schema.ts";
