import { InvalidUpstreamResponse } from "../../errors.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, numberField, stringField, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { clientSecretExpiry, clientSecretsPath } from "../openai/client-secrets.ts";
import { createXaiEmulator, type XaiEmulator, type XaiEmulatorOptions } from "./emulator.ts";
import { DEFAULT_EXPIRES_AFTER_SECONDS, xaiConfigSchema, type XaiConfig, type XaiConfigInput } from "./schema.ts";

/**
 * tollgate/xai: client secrets for xAI's Voice Agent API (Grok voice). A profile's config says only
 * how long the secret may be used; `POST {baseUrl}/v1/realtime/client_secrets` with the API key as
 * a bearer token and `{ expires_after: { seconds } }` answers `{ value, expires_at }`. The browser
 * opens `wss://api.x.ai/v1/realtime` with the `xai-client-secret.<value>` subprotocol, choosing its
 * model by the `model` query parameter. SOURCES.md says where each fact comes from.
 */

export interface XaiOptions extends HttpProviderOptions {
  /** Default `https://api.x.ai`; the form with `/v1` (`https://api.x.ai/v1`) also works. */
  baseUrl?: string | URL;
}

export type XaiProvider = HttpProvider<XaiConfig, XaiConfigInput> & { readonly emulator?: XaiEmulator };

const DEFAULT_BASE_URL = "https://api.x.ai";

/** An `expires_at` this large is epoch milliseconds, not seconds (after 2001 in ms, past the year 33000 in s). */
const MILLISECONDS_THRESHOLD = 1e12;

export function xai(options: XaiOptions): XaiProvider {
  return defineHttpProvider(
    {
      name: "xai",
      label: "xAI",
      defaultBaseUrl: DEFAULT_BASE_URL,
      path: clientSecretsPath("xai(): baseUrl", options?.baseUrl ?? DEFAULT_BASE_URL),
      method: "POST",
      config: xaiConfigSchema,
      // No source says a secret is spent by its first session; it is treated as usable until it expires.
      tokenUse: "reusable",
      authHeaders: (apiKey) => ({ Authorization: `Bearer ${apiKey}` }),
      // xAI takes no session length, so `maxSessionSeconds` has nowhere to go.
      request: (config) => ({ body: { expires_after: { seconds: expiresAfterSeconds(config) } } }),
      read: (body, { mintedAt, config }) => {
        const token = stringField(body, "value");
        if (!token) throw new InvalidUpstreamResponse("xAI answered 200 without a client secret value");
        return { token, expiresAt: clientSecretExpiry(expiresAtSeconds(body), mintedAt, expiresAfterSeconds(config), "xAI") };
      },
    },
    options,
  );
}

/**
 * An xAI provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
xai.emulated = (options: Partial<XaiEmulatorOptions> & Omit<XaiOptions, "apiKey" | "baseUrl" | "fetch"> = {}): XaiProvider & { emulator: XaiEmulator } => onEmulator("xai", xai, createXaiEmulator, options);

/** The profile the standalone server offers when it runs on the emulator. */
xai.demo = { expiresAfterSeconds: DEFAULT_EXPIRES_AFTER_SECONDS } satisfies XaiConfigInput;

/** The provider from `XAI_API_KEY` and `XAI_BASE_URL`, or undefined when no key is set. */
xai.fromEnv = httpFromEnv<XaiProvider>("XAI", xai);

function expiresAfterSeconds(config: XaiConfig): number {
  return config.expiresAfterSeconds ?? DEFAULT_EXPIRES_AFTER_SECONDS;
}

/**
 * `expires_at` in epoch seconds, as xAI documents it. One client library reports deployments that
 * answered in milliseconds; such a value is read as milliseconds rather than as a far future.
 */
function expiresAtSeconds(body: unknown): number | undefined {
  const value = numberField(body, "expires_at");
  if (value === undefined) return undefined;
  return value > MILLISECONDS_THRESHOLD ? value / 1000 : value;
}

export { createXaiEmulator, type XaiEmulator, type XaiEmulatorOptions } from "./emulator.ts";
export { xaiConfigSchema, DEFAULT_EXPIRES_AFTER_SECONDS, MIN_EXPIRES_AFTER_SECONDS, MAX_EXPIRES_AFTER_SECONDS, type XaiConfig, type XaiConfigInput } from "./schema.ts";
