import * as v from "valibot";
import { InvalidUpstreamResponse, OptionError } from "../../errors.ts";
import type { MintContext } from "../../provider.ts";
import { claimedExpiry } from "../../token-claims.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, stringField, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { createAnamEmulator, type AnamEmulator, type AnamEmulatorOptions } from "./emulator.ts";
import { personaConfigSchema, sessionOptionsSchema, type PersonaConfig, type PersonaConfigInput, type SchemaOptions, type SessionOptions } from "./schema.ts";

/**
 * tollgate/anam: session tokens for Anam's streaming avatars. A profile's config is a persona
 * config; `POST {baseUrl}/v1/auth/session-token` with the API key as a bearer token answers
 * `{ sessionToken }`, a JWT that starts one session within the hour. SOURCES.md says where each
 * fact comes from.
 */

export interface AnamOptions extends HttpProviderOptions {
  /** Default `https://api.anam.ai`. */
  baseUrl?: string | URL;
  /** Sent with every token, for Anam's own session listings. */
  clientLabel?: string;
  /** Sent with every token, e.g. `{ sessionReplay: { enableSessionReplay: false } }`. */
  sessionOptions?: SessionOptions;
  /** Let persona config keys this version does not know pass through to Anam. Default false. */
  passthroughUnknownKeys?: SchemaOptions["passthroughUnknownKeys"];
}

export type AnamProvider = HttpProvider<PersonaConfig, PersonaConfigInput> & { readonly emulator?: AnamEmulator };

/** A token lives one hour unless its `exp` claim says otherwise. */
const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export function anam(options: AnamOptions): AnamProvider {
  let sessionOptions: SessionOptions | undefined;
  if (options?.sessionOptions !== undefined) {
    const checked = v.safeParse(sessionOptionsSchema(options), options.sessionOptions);
    if (!checked.success) throw new OptionError("anam(): sessionOptions", checked.issues.map((issue) => issue.message).join("; "));
    sessionOptions = checked.output;
  }
  return defineHttpProvider(
    {
      name: "anam",
      label: "Anam",
      defaultBaseUrl: "https://api.anam.ai",
      path: "/v1/auth/session-token",
      method: "POST",
      config: personaConfigSchema({ passthroughUnknownKeys: options?.passthroughUnknownKeys ?? false }),
      tokenUse: "single-use",
      // A stateful persona's length is set on Anam's side; only an ephemeral one carries it here.
      enforcesSessionCeiling: (config) => ("personaId" in config ? false : { minSeconds: 1 }),
      authHeaders: (apiKey) => ({ Authorization: `Bearer ${apiKey}` }),
      request: (config, context) => {
        const body: Record<string, unknown> = { personaConfig: withSessionCeiling(config, context) };
        if (sessionOptions) body.sessionOptions = sessionOptions;
        if (options.clientLabel) body.clientLabel = options.clientLabel;
        return { body };
      },
      read: (body, { mintedAt }) => {
        const token = stringField(body, "sessionToken");
        if (!token) throw new InvalidUpstreamResponse("Anam answered 200 without a sessionToken");
        // Anam's guide and SDK read `sessionToken`; the answer carries it too, so their code works as it is.
        return { token, expiresAt: expiryOf(token, mintedAt), extra: { sessionToken: token } };
      },
    },
    options,
  );
}

/**
 * An Anam provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
anam.emulated = (options: Partial<AnamEmulatorOptions> & Omit<AnamOptions, "apiKey" | "baseUrl" | "fetch"> = {}): AnamProvider & { emulator: AnamEmulator } => onEmulator("anam", anam, createAnamEmulator, options);

/** Anam's documented demo persona, for a profile that works on the emulator as it is. */
anam.demo = Object.freeze({
  name: "Cara",
  avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
  voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
  llmId: "ANAM_GPT_4O_MINI_V1",
  systemPrompt: "You are Cara, a helpful customer service representative. Keep answers short.",
  maxSessionLengthSeconds: 600,
}) satisfies PersonaConfigInput;

/** The provider from `ANAM_API_KEY` and `ANAM_BASE_URL`, or undefined when no key is set. */
anam.fromEnv = httpFromEnv<AnamProvider>("ANAM", anam);

/** An ephemeral persona's `maxSessionLengthSeconds`, lowered to the app's ceiling where it has one. */
function withSessionCeiling(config: PersonaConfig, context: MintContext): PersonaConfig {
  const ceiling = context.maxSessionSeconds;
  if (ceiling === undefined || "personaId" in config) return config;
  const own = config.maxSessionLengthSeconds;
  return { ...config, maxSessionLengthSeconds: own === undefined ? ceiling : Math.min(own, ceiling) };
}

/** The token's own `exp` claim where it has one; otherwise the documented lifetime from now. */
export function expiryOf(token: string, mintedAt: number): number {
  return claimedExpiry(token) ?? mintedAt + DEFAULT_TOKEN_LIFETIME_MS;
}

export { createAnamEmulator, type AnamEmulator, type AnamEmulatorOptions } from "./emulator.ts";
export { personaConfigSchema, sessionOptionsSchema, LEGACY_BRAIN_TYPES, type PersonaConfig, type PersonaConfigInput, type StatefulPersonaConfig, type EphemeralPersonaConfig, type SessionOptions } from "./schema.ts";
