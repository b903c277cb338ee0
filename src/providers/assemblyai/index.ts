import { InvalidUpstreamResponse, OptionError } from "../../errors.ts";
import type { MintContext } from "../../provider.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, numberField, stringField, upstreamBaseUrl, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { createAssemblyAIEmulator, type AssemblyAIEmulator, type AssemblyAIEmulatorOptions } from "./emulator.ts";
import {
  assemblyAIConfigSchema,
  DEFAULT_EXPIRES_IN_SECONDS,
  MAX_SESSION_DURATION_SECONDS,
  MIN_SESSION_DURATION_SECONDS,
  type AssemblyAIConfig,
  type AssemblyAIConfigInput,
} from "./schema.ts";

/**
 * tollgate/assemblyai: temporary tokens for AssemblyAI's Universal Streaming (v3). A profile's config
 * is `{ expiresInSeconds?, maxSessionDurationSeconds? }`; `GET {baseUrl}/v3/token?expires_in_seconds=..
 * &max_session_duration_seconds=..` with the raw API key as `Authorization` answers
 * `{ token, expires_in_seconds }`. The token opens one stream (single-use), within
 * `expires_in_seconds`; the stream then lasts up to `max_session_duration_seconds`. The answer
 * carries `websocketUrl`, where the browser opens it. SOURCES.md says where each fact comes from.
 */

export interface AssemblyAIOptions extends HttpProviderOptions {
  /** Default `https://streaming.assemblyai.com`. */
  baseUrl?: string | URL;
  /**
   * Where the browser opens its stream (`websocketBaseUrl` in AssemblyAI's SDK), sent in each answer
   * as `websocketUrl`. Default `/v3/ws` at the base URL's host, as `wss:` (`ws:` for an `http:` base).
   */
  websocketUrl?: string | URL;
}

export type AssemblyAIProvider = HttpProvider<AssemblyAIConfig, AssemblyAIConfigInput> & { readonly emulator?: AssemblyAIEmulator };

const DEFAULT_BASE_URL = "https://streaming.assemblyai.com";

export function assemblyai(options: AssemblyAIOptions): AssemblyAIProvider {
  const websocketUrl = streamUrl(options?.websocketUrl, upstreamBaseUrl("assemblyai(): baseUrl", options?.baseUrl ?? DEFAULT_BASE_URL));
  return defineHttpProvider(
    {
      name: "assemblyai",
      label: "AssemblyAI",
      defaultBaseUrl: DEFAULT_BASE_URL,
      path: "/v3/token",
      method: "GET",
      config: assemblyAIConfigSchema,
      tokenUse: "single-use",
      enforcesSessionCeiling: () => ({ minSeconds: MIN_SESSION_DURATION_SECONDS }),
      // The key as it is: AssemblyAI takes no scheme in front of it.
      authHeaders: (apiKey) => ({ Authorization: apiKey }),
      request: (config, context) => ({
        query: {
          expires_in_seconds: config.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS,
          max_session_duration_seconds: sessionDuration(config, context),
        },
      }),
      read: (body, { mintedAt, config }) => {
        const token = stringField(body, "token");
        if (!token) throw new InvalidUpstreamResponse("AssemblyAI answered 200 without a token");
        // The SDK's type has `token` alone; the reference adds `expires_in_seconds`, the window granted.
        const expiresIn = numberField(body, "expires_in_seconds") ?? config.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS;
        if (expiresIn <= 0) throw new InvalidUpstreamResponse("AssemblyAI answered 200 with a token that has already expired");
        return { token, expiresAt: mintedAt + expiresIn * 1000, extra: { websocketUrl } };
      },
    },
    options,
  );
}

/**
 * The profile's own cap, lowered to the app's longest session where it sets one. AssemblyAI refuses a
 * cap under 60 seconds, so a shorter ceiling is sent as 60: the stream may run up to a minute, and
 * the lease, which lapses at the app's own length, stands for the rest.
 */
export function sessionDuration(config: AssemblyAIConfig, context: Pick<MintContext, "maxSessionSeconds">): number | undefined {
  const own = config.maxSessionDurationSeconds;
  const ceiling = context.maxSessionSeconds;
  if (ceiling === undefined || !Number.isFinite(ceiling) || ceiling <= 0) return own;
  const lowered = Math.min(own ?? MAX_SESSION_DURATION_SECONDS, Math.floor(ceiling));
  return Math.max(MIN_SESSION_DURATION_SECONDS, lowered);
}

/** `websocketUrl`, checked; or `v3/ws` under the base URL, on the matching WebSocket scheme. */
function streamUrl(option: string | URL | undefined, baseUrl: URL): string {
  if (option === undefined) {
    const url = new URL("v3/ws", baseUrl);
    url.protocol = url.protocol === "http:" ? "ws:" : "wss:";
    return url.href;
  }
  let url: URL;
  try {
    url = new URL(option);
  } catch {
    throw new OptionError("assemblyai(): websocketUrl", "must be a ws(s) URL");
  }
  if (url.protocol !== "wss:" && url.protocol !== "ws:") throw new OptionError("assemblyai(): websocketUrl", "must be a ws(s) URL");
  if (url.username || url.password) throw new OptionError("assemblyai(): websocketUrl", "must not carry credentials (user:password@)");
  return url.href;
}

/**
 * An AssemblyAI provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
assemblyai.emulated = (options: Partial<AssemblyAIEmulatorOptions> & Omit<AssemblyAIOptions, "apiKey" | "baseUrl" | "fetch"> = {}): AssemblyAIProvider & { emulator: AssemblyAIEmulator } => onEmulator("assemblyai", assemblyai, createAssemblyAIEmulator, options);

/** The demo profile's config on the emulator: a minute to open the stream, as AssemblyAI's examples. */
assemblyai.demo = { expiresInSeconds: DEFAULT_EXPIRES_IN_SECONDS } satisfies AssemblyAIConfigInput;

/** The provider from `ASSEMBLYAI_API_KEY` and `ASSEMBLYAI_BASE_URL`, or undefined when no key is set. */
assemblyai.fromEnv = httpFromEnv<AssemblyAIProvider>("ASSEMBLYAI", assemblyai);

export { createAssemblyAIEmulator, type AssemblyAIEmulator, type AssemblyAIEmulatorOptions } from "./emulator.ts";
export {
  assemblyAIConfigSchema,
  DEFAULT_EXPIRES_IN_SECONDS,
  MAX_EXPIRES_IN_SECONDS,
  MAX_SESSION_DURATION_SECONDS,
  MIN_EXPIRES_IN_SECONDS,
  MIN_SESSION_DURATION_SECONDS,
  type AssemblyAIConfig,
  type AssemblyAIConfigInput,
} from "./schema.ts";
