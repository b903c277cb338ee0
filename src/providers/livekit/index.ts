import { SignJWT } from "jose";
import { OptionError, TollgateError } from "../../errors.ts";
import { defineProvider, providerIdentity, type MintContext, type MintedToken, type Provider } from "../../provider.ts";
import { emulatorBaseUrl } from "../emulator.ts";
import { fromEnv } from "../env.ts";
import { createLiveKitEmulator, type LiveKitEmulator } from "./emulator.ts";
import { roomConfigSchema, type LiveKitConfig, type LiveKitConfigInput } from "./schema.ts";

/**
 * tollgate/livekit: room tokens for LiveKit, signed here with the API secret, as livekit-server-sdk's
 * AccessToken signs them (HS256; `iss` the API key, `sub` the user's identity, `nbf` now, `exp`, and
 * the `video` grant). No upstream: `mint` never touches the network, so there is nothing to retry.
 * A token may connect until it expires (LiveKit checks `exp` at the first connection only), so it is
 * reusable. SOURCES.md says where each fact comes from.
 */

export interface LiveKitOptions {
  /** The API key: the tokens' issuer. */
  apiKey: string;
  /** The API secret the tokens are signed with. Never leaves the server. */
  apiSecret: string;
  /** The LiveKit server the browser connects to (`wss://...`), handed out as `serverUrl`. */
  url: string | URL;
}

export type LiveKitProvider = Provider<LiveKitConfig, LiveKitConfigInput> & { readonly emulator?: LiveKitEmulator };

export function livekit(options: LiveKitOptions): LiveKitProvider {
  const apiKey = requiredText("livekit(): apiKey", options?.apiKey);
  const apiSecret = requiredText("livekit(): apiSecret", options?.apiSecret);
  const serverUrl = checkedServerUrl("livekit(): url", options.url);
  const secret = new TextEncoder().encode(apiSecret);

  async function mint(config: LiveKitConfig, context: MintContext): Promise<MintedToken> {
    const identity = context.user.id;
    // LiveKit refuses a join token without an identity; so does AccessToken.toJwt().
    if (typeof identity !== "string" || identity === "") throw new TollgateError("internal", { detail: "A LiveKit room token needs the user's identity (user.id)" });
    const now = Math.floor(Date.now() / 1000);
    const exp = now + config.ttlSeconds;
    const claims: Record<string, unknown> = { video: { ...config.grants, room: config.room, roomJoin: true } };
    if (config.name !== undefined) claims.name = config.name;
    if (config.metadata !== undefined) claims.metadata = config.metadata;
    if (config.attributes !== undefined) claims.attributes = config.attributes;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(apiKey)
      .setSubject(identity)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .sign(secret);
    return { token, expiresAt: exp * 1000, extra: { serverUrl } };
  }

  return defineProvider<LiveKitConfig, LiveKitConfigInput>({
    name: "livekit",
    config: roomConfigSchema,
    tokenUse: "reusable",
    mint,
    identity: providerIdentity(serverUrl, apiKey),
    redact: (text) => text.split(apiSecret).join("[redacted]").split(apiKey).join("[redacted]"),
  });
}

/**
 * A LiveKit provider with a fresh key and secret, and the emulator that checks its tokens as a
 * LiveKit server would (`GET /rtc/validate`). `url` is where that emulator is served (the
 * standalone server, a test's loopback port); by default an address that resolves nowhere.
 */
livekit.emulated = (options: Partial<LiveKitOptions> & { latencyMs?: number } = {}): LiveKitProvider => {
  const apiKey = options.apiKey ?? `emulator-${crypto.randomUUID().slice(0, 8)}`;
  const apiSecret = options.apiSecret ?? crypto.randomUUID() + crypto.randomUUID();
  const emulator = createLiveKitEmulator({ apiKey, apiSecret, latencyMs: options.latencyMs });
  return { ...livekit({ apiKey, apiSecret, url: options.url ?? emulatorBaseUrl("livekit") }), emulator };
};

/** The demo profile's config: one room, ten-minute tokens, publish and subscribe. */
livekit.demo = {
  room: "tollgate-demo",
  ttlSeconds: 600,
  grants: { canPublish: true, canSubscribe: true, canPublishData: true },
} satisfies LiveKitConfigInput;

/**
 * The provider from `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET` and `LIVEKIT_URL`, or undefined when no
 * key is set. A key without its secret or URL is a misconfiguration, refused naming the variable;
 * so is a `LIVEKIT_URL` that is set but wrong, with or without a key.
 */
livekit.fromEnv = fromEnv<LiveKitProvider>(["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_URL"], (env) => {
  const url = env.LIVEKIT_URL?.trim() ? checkedServerUrl("LIVEKIT_URL", env.LIVEKIT_URL.trim()) : undefined;
  const apiKey = env.LIVEKIT_API_KEY;
  if (!apiKey) return undefined;
  if (!env.LIVEKIT_API_SECRET) throw new OptionError("LIVEKIT_API_SECRET", "is required when LIVEKIT_API_KEY is set");
  if (!url) throw new OptionError("LIVEKIT_URL", "is required when LIVEKIT_API_KEY is set");
  return livekit({ apiKey, apiSecret: env.LIVEKIT_API_SECRET, url });
});

function requiredText(option: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") throw new OptionError(option, "is required");
  return value;
}

/**
 * The server URL as the browser will get it: ws(s) or http(s), which livekit-client both take, and
 * no credentials in it, since it is handed to every browser. The message never repeats the URL.
 */
function checkedServerUrl(option: string, value: unknown): string {
  if (typeof value !== "string" && !(value instanceof URL)) throw new OptionError(option, "is required: the LiveKit server URL (wss://...)");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OptionError(option, "must be a ws(s) or http(s) URL");
  }
  if (!["wss:", "ws:", "https:", "http:"].includes(url.protocol)) throw new OptionError(option, "must be a ws(s) or http(s) URL");
  if (url.username || url.password) throw new OptionError(option, "must not carry credentials (user:password@)");
  return String(value);
}

export { createLiveKitEmulator, type LiveKitEmulator, type LiveKitEmulatorOptions } from "./emulator.ts";
export { roomConfigSchema, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, TRACK_SOURCES, type LiveKitConfig, type LiveKitConfigInput, type LiveKitGrants } from "./schema.ts";
