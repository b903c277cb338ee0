import { InvalidUpstreamResponse } from "../../errors.ts";
import { claimedExpiry } from "../../token-claims.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, numberField, stringField, type HttpProvider, type HttpProviderOptions } from "../http.ts";
import { createDeepgramEmulator, type DeepgramEmulator, type DeepgramEmulatorOptions } from "./emulator.ts";
import { DEFAULT_TTL_SECONDS, deepgramConfigSchema, type DeepgramConfig, type DeepgramConfigInput } from "./schema.ts";

/**
 * tollgate/deepgram: temporary JWTs for Deepgram's voice APIs. A profile's config is
 * `{ ttlSeconds? }`; `POST {baseUrl}/v1/auth/grant` with `Authorization: Token <key>` and
 * `{ ttl_seconds }` answers `{ access_token, expires_in }`. The browser sends the JWT as a bearer
 * token (or the `bearer` WebSocket subprotocol) until it expires: grants are reusable. Deepgram has no
 * session cap to send, so `maxSessionSeconds` is left to the lease. SOURCES.md says where each fact
 * comes from.
 */

export interface DeepgramOptions extends HttpProviderOptions {
  /** Default `https://api.deepgram.com`. */
  baseUrl?: string | URL;
}

export type DeepgramProvider = HttpProvider<DeepgramConfig, DeepgramConfigInput> & { readonly emulator?: DeepgramEmulator };

export function deepgram(options: DeepgramOptions): DeepgramProvider {
  return defineHttpProvider(
    {
      name: "deepgram",
      label: "Deepgram",
      defaultBaseUrl: "https://api.deepgram.com",
      path: "/v1/auth/grant",
      method: "POST",
      config: deepgramConfigSchema,
      // Grants are not documented as single-use; the reuse margin is the default sixth of the lifetime.
      tokenUse: "reusable",
      authHeaders: (apiKey) => ({ Authorization: `Token ${apiKey}` }),
      // Sent even at the default, so the lifetime does not hang on a default that changed once already.
      request: (config) => ({ body: { ttl_seconds: config.ttlSeconds ?? DEFAULT_TTL_SECONDS } }),
      read: (body, { mintedAt, config }) => {
        const token = stringField(body, "access_token");
        if (!token) throw new InvalidUpstreamResponse("Deepgram answered 200 without an access_token");
        return { token, expiresAt: expiryOf(token, numberField(body, "expires_in"), mintedAt, config) };
      },
    },
    options,
  );
}

/**
 * `expires_in` counts from the answer, so it holds whatever the two clocks say; the JWT's `exp` is
 * next best, then the TTL asked for. A grant already expired is no usable token.
 */
function expiryOf(token: string, expiresIn: number | undefined, mintedAt: number, config: DeepgramConfig): number {
  if (expiresIn !== undefined) {
    if (expiresIn <= 0) throw new InvalidUpstreamResponse("Deepgram answered 200 with a grant that has already expired");
    return mintedAt + expiresIn * 1000;
  }
  return claimedExpiry(token) ?? mintedAt + (config.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
}

/**
 * A Deepgram provider on an emulator in this process: no key, no network. The emulator is on the
 * provider as `emulator`, for its stats and faults.
 */
deepgram.emulated = (options: Partial<DeepgramEmulatorOptions> & Omit<DeepgramOptions, "apiKey" | "baseUrl" | "fetch"> = {}): DeepgramProvider & { emulator: DeepgramEmulator } => onEmulator("deepgram", deepgram, createDeepgramEmulator, options);

/** The demo profile's config on the emulator: Deepgram's own default lifetime. */
deepgram.demo = { ttlSeconds: DEFAULT_TTL_SECONDS } satisfies DeepgramConfigInput;

/** The provider from `DEEPGRAM_API_KEY` and `DEEPGRAM_BASE_URL`, or undefined when no key is set. */
deepgram.fromEnv = httpFromEnv<DeepgramProvider>("DEEPGRAM", deepgram);

export { createDeepgramEmulator, type DeepgramEmulator, type DeepgramEmulatorOptions } from "./emulator.ts";
export { deepgramConfigSchema, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS, type DeepgramConfig, type DeepgramConfigInput } from "./schema.ts";
