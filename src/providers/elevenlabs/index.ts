import { InvalidUpstreamResponse } from "../../errors.ts";
import { defineProvider, type MintedToken, type TokenUse } from "../../provider.ts";
import { claimedExpiry } from "../../token-claims.ts";
import { onEmulator } from "../emulator.ts";
import { httpFromEnv } from "../env.ts";
import { defineHttpProvider, stringField, upstreamBaseUrl, type HttpProvider, type HttpProviderOptions, type HttpProviderSpec } from "../http.ts";
import { createElevenLabsEmulator, DEMO_AGENT_ID, type ElevenLabsEmulator, type ElevenLabsEmulatorOptions } from "./emulator.ts";
import { elevenLabsConfigSchema, type ElevenLabsConfig, type ElevenLabsConfigInput, type WebrtcConfig, type WebsocketConfig } from "./schema.ts";

/**
 * tollgate/elevenlabs: credentials for ElevenLabs Agents. A profile names an agent and a
 * connection: `webrtc` (default) mints a conversation token at `GET /v1/convai/conversation/token`
 * (a LiveKit JWT, for `Conversation.startSession({ conversationToken, connectionType: "webrtc" })`);
 * `websocket` mints a signed URL at `GET /v1/convai/conversation/get-signed-url` (for
 * `startSession({ signedUrl })`). The answer's `connection` tells the browser which. Both calls
 * send the API key as `xi-api-key` and the request in the query. SOURCES.md says where each fact
 * comes from.
 */

export interface ElevenLabsOptions extends HttpProviderOptions {
  /** Default `https://api.elevenlabs.io` (or a residency host such as `https://api.eu.residency.elevenlabs.io`). */
  baseUrl?: string | URL;
}

export type ElevenLabsProvider = HttpProvider<ElevenLabsConfig, ElevenLabsConfigInput> & { readonly emulator?: ElevenLabsEmulator };

const DEFAULT_BASE_URL = "https://api.elevenlabs.io";
const TOKEN_PATH = "/v1/convai/conversation/token";
const SIGNED_URL_PATH = "/v1/convai/conversation/get-signed-url";

/** "Signed URLs are valid for 15 minutes": the window to start the conversation, not its length. */
export const SIGNED_URL_LIFETIME_MS = 15 * 60 * 1000;
/**
 * ElevenLabs documents no lifetime for a conversation token. Its `exp` claim decides when it has
 * one; without it, the signed URL's 15 minutes are assumed, so that no token is handed out longer
 * than the one window ElevenLabs does document.
 */
export const ASSUMED_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

/**
 * A plain signed URL may start conversations until it expires. One with a conversation id is
 * single-use, as ElevenLabs says; so is a conversation token here, since nothing says it is not.
 */
export function elevenLabsTokenUse(config: ElevenLabsConfig): TokenUse {
  return config.connection === "websocket" && !config.includeConversationId ? "reusable" : "single-use";
}

export function elevenlabs(options: ElevenLabsOptions): ElevenLabsProvider {
  // ElevenLabs has one path per connection, and an HTTP provider one path: a provider for each,
  // and the one the config asks for mints. Both check the same options, so either throws alike.
  const common = {
    name: "elevenlabs",
    label: "ElevenLabs",
    defaultBaseUrl: DEFAULT_BASE_URL,
    method: "GET",
    config: elevenLabsConfigSchema,
    tokenUse: elevenLabsTokenUse,
    authHeaders: (apiKey: string) => ({ "xi-api-key": apiKey }),
    errorMessage: detailMessage,
  } satisfies Partial<HttpProviderSpec<ElevenLabsConfig, ElevenLabsConfigInput>>;

  const webrtc = defineHttpProvider<ElevenLabsConfig, ElevenLabsConfigInput>(
    {
      ...common,
      path: TOKEN_PATH,
      request: (config) => {
        const { agentId, participantName, branchId, versionId, environment } = config as WebrtcConfig;
        return { query: { agent_id: agentId, participant_name: participantName, branch_id: branchId, version_id: versionId, environment } };
      },
      read: (body, { mintedAt }) => readConversationToken(body, mintedAt),
    },
    options,
  );
  const websocket = defineHttpProvider<ElevenLabsConfig, ElevenLabsConfigInput>(
    {
      ...common,
      path: SIGNED_URL_PATH,
      request: (config) => {
        const { agentId, includeConversationId, branchId, versionId, environment } = config as WebsocketConfig;
        return { query: { agent_id: agentId, include_conversation_id: includeConversationId, branch_id: branchId, version_id: versionId, environment } };
      },
      read: (body, { mintedAt }) => readSignedUrl(body, mintedAt),
    },
    options,
  );

  const provider = defineProvider<ElevenLabsConfig, ElevenLabsConfigInput>({
    name: "elevenlabs",
    config: elevenLabsConfigSchema,
    tokenUse: elevenLabsTokenUse,
    mint: (config, context) => (config.connection === "websocket" ? websocket : webrtc).mint(config, context),
    // Spans name one endpoint: the prefix both paths share.
    upstream: { ...webrtc.upstream, endpoint: new URL("v1/convai/conversation/", upstreamBaseUrl("elevenlabs(): baseUrl", options.baseUrl ?? DEFAULT_BASE_URL)) },
    identity: webrtc.identity,
    redact: webrtc.redact,
  });
  return provider as ElevenLabsProvider;
}

/** `{ token, conversation_id }`: the expiry is the JWT's own `exp` where it has one. */
function readConversationToken(body: unknown, mintedAt: number): Omit<MintedToken, "status"> {
  const token = stringField(body, "token");
  if (!token) throw new InvalidUpstreamResponse("ElevenLabs answered 200 without a token");
  const expiresAt = claimedExpiry(token) ?? mintedAt + ASSUMED_TOKEN_LIFETIME_MS;
  if (expiresAt <= mintedAt) throw new InvalidUpstreamResponse("ElevenLabs answered 200 with a token that has already expired");
  const conversationId = stringField(body, "conversation_id");
  return { token, expiresAt, extra: conversationId ? { connection: "webrtc", conversationId } : { connection: "webrtc" } };
}

/** `{ signed_url }`: a ws(s) URL that starts a conversation within 15 minutes. */
function readSignedUrl(body: unknown, mintedAt: number): Omit<MintedToken, "status"> {
  const signedUrl = stringField(body, "signed_url");
  let url: URL | undefined;
  try {
    url = signedUrl ? new URL(signedUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!signedUrl || !url || (url.protocol !== "wss:" && url.protocol !== "ws:")) {
    throw new InvalidUpstreamResponse("ElevenLabs answered 200 without a ws(s) signed_url");
  }
  // The signature is the secret and stays inside the URL; the conversation id is none.
  const conversationId = url.searchParams.get("conversation_id");
  return {
    token: signedUrl,
    expiresAt: mintedAt + SIGNED_URL_LIFETIME_MS,
    extra: conversationId ? { connection: "websocket", conversationId } : { connection: "websocket" },
  };
}

/** FastAPI's `detail`: a string, `{ status, message }`, or 422's list of `{ loc, msg }`. */
function detailMessage(body: unknown): string | undefined {
  const detail = typeof body === "object" && body !== null ? (body as { detail?: unknown }).detail : undefined;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const parts = detail.map((issue: { loc?: unknown; msg?: unknown }) => {
      const where = Array.isArray(issue?.loc) ? issue.loc.join(".") : "";
      return typeof issue?.msg === "string" ? (where ? `${where}: ${issue.msg}` : issue.msg) : "";
    });
    return parts.filter(Boolean).join("; ") || undefined;
  }
  if (typeof detail === "object" && detail !== null) {
    const { message, status } = detail as { message?: unknown; status?: unknown };
    if (typeof message === "string") return typeof status === "string" ? `${status}: ${message}` : message;
  }
  return undefined;
}

/**
 * An ElevenLabs provider on an emulator in this process: no key, no network. The emulator is on
 * the provider as `emulator`, for its stats and faults.
 */
elevenlabs.emulated = (options: Partial<ElevenLabsEmulatorOptions> & Omit<ElevenLabsOptions, "apiKey" | "baseUrl" | "fetch"> = {}): ElevenLabsProvider & { emulator: ElevenLabsEmulator } => onEmulator("elevenlabs", elevenlabs, createElevenLabsEmulator, options);

/** The demo profile's config: a WebRTC conversation with the agent every emulator knows. */
elevenlabs.demo = Object.freeze({ agentId: DEMO_AGENT_ID, connection: "webrtc" }) satisfies ElevenLabsConfigInput;

/** The provider from `ELEVENLABS_API_KEY` and `ELEVENLABS_BASE_URL`, or undefined when no key is set. */
elevenlabs.fromEnv = httpFromEnv<ElevenLabsProvider>("ELEVENLABS", elevenlabs);

export { createElevenLabsEmulator, DEMO_AGENT_ID, type ElevenLabsEmulator, type ElevenLabsEmulatorOptions } from "./emulator.ts";
export {
  CONNECTIONS,
  elevenLabsConfigSchema,
  type Connection,
  type ElevenLabsConfig,
  type ElevenLabsConfigInput,
  type WebrtcConfig,
  type WebsocketConfig,
} from "./schema.ts";
