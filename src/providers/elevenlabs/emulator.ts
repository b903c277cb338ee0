import { SignJWT } from "jose";
import { emulatorKit, type Emulator, type EmulatorOptions } from "../emulator.ts";

/**
 * ElevenLabs Agents' credential endpoints as a fetch handler, as the elevenlabs-js SDK and the docs
 * describe them (SOURCES.md). Both are GET with the query alone and `xi-api-key`:
 * - `/v1/convai/conversation/token` answers `{ token, conversation_id }`, the token a LiveKit-style
 *   HS256 JWT with `exp`;
 * - `/v1/convai/conversation/get-signed-url` (and the older `get_signed_url`) answers
 *   `{ signed_url }`, a `ws(s)://` URL with `agent_id` and `conversation_signature`, and
 *   `conversation_id` when `include_conversation_id` is true; it can start a conversation for 15
 *   minutes, and only once when it carries a conversation id.
 * - `/v1/convai/conversation?agent_id=…&conversation_signature=…` stands in for the WebSocket
 *   handshake the browser SDK makes with a signed URL: a GET spends the signature (once, where it
 *   is single-use) and answers `{ conversation_id, agent_id }`, or 401 when the signature is
 *   unknown, expired or spent.
 * Errors are FastAPI's shapes: `{ detail: { status, message } }`, and 422 `{ detail: [{ type,
 * loc, msg, input }] }` for a query that does not validate.
 */

export interface ElevenLabsEmulatorOptions extends EmulatorOptions {
  /** Agents that exist; any other is a 404. Default: the demo agent alone. */
  agentIds?: string[];
  /** HS256 secret of the conversation tokens it signs. Default: random, per emulator. */
  signingSecret?: Uint8Array;
  /** The `exp` of a conversation token, from its minting. Default 900 s (ElevenLabs documents none). */
  tokenLifetimeSeconds?: number;
  /** How long a signed URL can start a conversation. Default 900 s, as ElevenLabs documents. */
  signedUrlLifetimeSeconds?: number;
}

export type ElevenLabsEmulator = Emulator;

/** The agent the demo profile names, and the one agent an emulator knows by default. */
export const DEMO_AGENT_ID = "agent_0000demo0emulator0000000";

const TOKEN_PATH = "/v1/convai/conversation/token";
const SIGNED_URL_PATHS = new Set(["/v1/convai/conversation/get-signed-url", "/v1/convai/conversation/get_signed_url"]);
const CONVERSATION_PATH = "/v1/convai/conversation";
const SIGNED_URL_LIFETIME_SECONDS = 15 * 60;

// Pydantic's lax booleans, as FastAPI reads them from a query string.
const TRUE_WORDS = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE_WORDS = new Set(["0", "off", "f", "false", "n", "no"]);

interface Signature {
  agentId: string;
  conversationId: string | undefined;
  expiresAt: number;
  spent: boolean;
}

interface QueryIssue {
  type: string;
  loc: ["query", string];
  msg: string;
  input: string | null;
}

const STATUS_NAMES: Record<number, string> = {
  401: "invalid_api_key",
  404: "not_found",
  429: "rate_limit_exceeded",
  500: "internal_server_error",
  503: "service_unavailable",
};

const errorBody = (status: number, message = `Emulated fault ${status}`, name = STATUS_NAMES[status] ?? "error") => ({
  detail: { status: name, message },
});

export function createElevenLabsEmulator(options: ElevenLabsEmulatorOptions): ElevenLabsEmulator {
  const secret = options.signingSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const tokenLifetime = options.tokenLifetimeSeconds ?? 900;
  const signedUrlLifetimeMs = (options.signedUrlLifetimeSeconds ?? SIGNED_URL_LIFETIME_SECONDS) * 1000;
  const agentIds = new Set(options.agentIds ?? [DEMO_AGENT_ID]);
  const accountUserId = `user_${randomId()}`;
  const signatures = new Map<string, Signature>();
  const kit = emulatorKit(options);
  const { stats } = kit;

  /** What both mint endpoints check first: the key, then the query (FastAPI's 422), then the agent. */
  async function admit(request: Request, booleans: string[]): Promise<Response | { query: URLSearchParams; agentId: string }> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;
    if (request.headers.get("xi-api-key") !== options.apiKey) return error(401, "Invalid API key", "invalid_api_key");

    const query = new URL(request.url).searchParams;
    const issues: QueryIssue[] = [];
    const agentId = query.get("agent_id");
    if (agentId === null) issues.push({ type: "missing", loc: ["query", "agent_id"], msg: "Field required", input: null });
    for (const name of booleans) {
      const value = query.get(name);
      if (value !== null && parseBoolean(value) === undefined) {
        issues.push({ type: "bool_parsing", loc: ["query", name], msg: "Input should be a valid boolean, unable to interpret input", input: value });
      }
    }
    if (issues.length > 0) return Response.json({ detail: issues }, { status: 422 });
    if (!agentIds.has(agentId!)) return error(404, `Agent ${JSON.stringify(agentId)} not found`, "agent_not_found");
    return { query, agentId: agentId! };
  }

  async function conversationToken(request: Request): Promise<Response> {
    const admitted = await admit(request, ["debug_events_request"]);
    if (admitted instanceof Response) return admitted;
    const conversationId = `conv_${randomId()}`;
    const identity = admitted.query.get("participant_name") || accountUserId;
    const token = await new SignJWT({
      name: identity,
      video: { room: `room_${admitted.agentId}_${conversationId}`, roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true },
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("elevenlabs-emulator")
      .setSubject(identity)
      .setJti(crypto.randomUUID())
      .setNotBefore("0s")
      .setIssuedAt()
      .setExpirationTime(`${tokenLifetime}s`)
      .sign(secret);
    stats.tokensIssued++;
    return Response.json({ token, conversation_id: conversationId });
  }

  async function signedUrl(request: Request): Promise<Response> {
    const admitted = await admit(request, ["include_conversation_id", "debug_events_request"]);
    if (admitted instanceof Response) return admitted;
    forgetExpired();
    const withConversationId = parseBoolean(admitted.query.get("include_conversation_id") ?? "false") === true;
    const signature = randomId() + randomId();
    const conversationId = withConversationId ? `conv_${randomId()}` : undefined;
    signatures.set(signature, { agentId: admitted.agentId, conversationId, expiresAt: Date.now() + signedUrlLifetimeMs, spent: false });

    // The browser SDK opens the URL as it is, so it points back at this emulator, ws:// for http://.
    const url = new URL(CONVERSATION_PATH, request.url);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("agent_id", admitted.agentId);
    url.searchParams.set("conversation_signature", signature);
    if (conversationId) url.searchParams.set("conversation_id", conversationId);
    stats.tokensIssued++;
    return Response.json({ signed_url: url.href });
  }

  /** A conversation started with a signed URL: spends a single-use signature, refuses a spent or stale one. */
  function startConversation(request: Request): Response {
    const query = new URL(request.url).searchParams;
    const signature = signatures.get(query.get("conversation_signature") ?? "");
    if (!signature || signature.agentId !== query.get("agent_id")) return error(401, "Invalid conversation signature", "invalid_signature");
    if (Date.now() >= signature.expiresAt) return error(401, "Conversation signature has expired", "signature_expired");
    if (signature.spent) return error(401, "Conversation signature has already been used", "signature_used");
    if (signature.conversationId) signature.spent = true;
    stats.sessionsStarted++;
    return Response.json({ conversation_id: signature.conversationId ?? `conv_${randomId()}`, agent_id: signature.agentId });
  }

  function forgetExpired() {
    const now = Date.now();
    for (const [key, signature] of signatures) if (now >= signature.expiresAt) signatures.delete(key);
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const known = pathname === TOKEN_PATH || pathname === CONVERSATION_PATH || SIGNED_URL_PATHS.has(pathname);
    if (!known) return Response.json({ detail: "Not Found" }, { status: 404 });
    if (request.method !== "GET") return Response.json({ detail: "Method Not Allowed" }, { status: 405, headers: { Allow: "GET" } });
    if (pathname === TOKEN_PATH) return conversationToken(request);
    if (pathname === CONVERSATION_PATH) return startConversation(request);
    return signedUrl(request);
  }

  return kit.emulator(handle, errorBody);
}

function parseBoolean(value: string): boolean | undefined {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

/** 26 lowercase letters and digits, the length of ElevenLabs' own id suffixes. */
function randomId(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  return Array.from(crypto.getRandomValues(new Uint8Array(26)), (byte) => alphabet[byte % 32]).join("");
}

function error(status: number, message: string, name: string): Response {
  return Response.json(errorBody(status, message, name), { status });
}
