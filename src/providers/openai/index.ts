import { InvalidUpstreamResponse } from "../../errors.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, numberField, stringField, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { createOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from "./emulator.ts";
import { clientSecretExpiry, clientSecretsPath } from "./client-secrets.ts";
import { DEFAULT_EXPIRES_AFTER_SECONDS, openAIConfigSchema, type OpenAIConfig, type OpenAIConfigInput } from "./schema.ts";

/**
 * tollgate/openai: client secrets for OpenAI's Realtime API (GA). A profile's config is the session
 * the secret is bound to, and how long the secret may start sessions;
 * `POST {baseUrl}/v1/realtime/client_secrets` with the API key as a bearer token answers
 * `{ value: "ek_...", expires_at, session }`. The browser starts its WebRTC call at
 * `/v1/realtime/calls`, or its WebSocket, with `value` as its bearer. SOURCES.md says where each
 * fact comes from.
 */

export interface OpenAIOptions extends HttpProviderOptions {
  /** Default `https://api.openai.com`; the SDK's form with `/v1` (`https://api.openai.com/v1`) also works. */
  baseUrl?: string | URL;
}

export type OpenAIProvider = HttpProvider<OpenAIConfig, OpenAIConfigInput> & { readonly emulator?: OpenAIEmulator };

const DEFAULT_BASE_URL = "https://api.openai.com";

export function openai(options: OpenAIOptions): OpenAIProvider {
  return defineHttpProvider(
    {
      name: "openai",
      label: "OpenAI",
      defaultBaseUrl: DEFAULT_BASE_URL,
      path: clientSecretsPath("openai(): baseUrl", options?.baseUrl ?? DEFAULT_BASE_URL),
      method: "POST",
      config: openAIConfigSchema,
      // "A secret can be used to create multiple sessions until it expires" (openai-node).
      tokenUse: "reusable",
      authHeaders: (apiKey) => ({ Authorization: `Bearer ${apiKey}` }),
      // OpenAI has no field that caps a session's length, so `maxSessionSeconds` has nowhere to go.
      request: (config) => ({
        body: {
          expires_after: { anchor: "created_at", seconds: expiresAfterSeconds(config) },
          session: config.session,
        },
      }),
      read: (body, { mintedAt, config }) => {
        const token = stringField(body, "value");
        if (!token) throw new InvalidUpstreamResponse("OpenAI answered 200 without a client secret value");
        return { token, expiresAt: clientSecretExpiry(numberField(body, "expires_at"), mintedAt, expiresAfterSeconds(config), "OpenAI") };
      },
    },
    options,
  );
}

/**
 * An OpenAI provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
openai.emulated = (options: Partial<OpenAIEmulatorOptions> & Omit<OpenAIOptions, "apiKey" | "baseUrl" | "fetch"> = {}): OpenAIProvider & { emulator: OpenAIEmulator } => onEmulator("openai", openai, createOpenAIEmulator, options);

/** The profile the standalone server offers when it runs on the emulator. */
openai.demo = {
  session: { type: "realtime", model: "gpt-realtime", instructions: "You are a friendly assistant. Keep your answers short." },
  expiresAfterSeconds: DEFAULT_EXPIRES_AFTER_SECONDS,
} satisfies OpenAIConfigInput;

/** The provider from `OPENAI_API_KEY` and `OPENAI_BASE_URL`, or undefined when no key is set. */
openai.fromEnv = httpFromEnv<OpenAIProvider>("OPENAI", openai);

function expiresAfterSeconds(config: OpenAIConfig): number {
  return config.expiresAfterSeconds ?? DEFAULT_EXPIRES_AFTER_SECONDS;
}

export { createOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from "./emulator.ts";
export {
  openAIConfigSchema,
  DEFAULT_EXPIRES_AFTER_SECONDS,
  MIN_EXPIRES_AFTER_SECONDS,
  MAX_EXPIRES_AFTER_SECONDS,
  type OpenAIConfig,
  type OpenAIConfigInput,
  type OpenAISession,
  type OpenAIRealtimeSession,
  type OpenAITranscriptionSession,
} from "./schema.ts";
