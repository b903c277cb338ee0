import { emulatorKit, jsonBody, type Emulator, type EmulatorOptions } from "../emulator.ts";

/**
 * The Gemini API's ephemeral tokens as a fetch handler, as `@google/genai` and Google's docs
 * describe them (SOURCES.md):
 * - `POST /v1alpha/auth_tokens` with `x-goog-api-key` (or `?key=`) checks the body as the SDK writes
 *   it (`uses` a whole number >= 0; `expireTime` and `newSessionExpireTime` RFC 3339 instants in the
 *   future and less than 20 hours away, defaults 30 minutes and 60 seconds; a setup naming its
 *   `models/...`; a field mask of field paths) and answers `{ name: "auth_tokens/..." }`;
 * - the Live API's session start is a WebSocket upgrade, which a fetch handler cannot take; a plain
 *   `GET` of the same constrained path with `?access_token=` stands in for it, so that a token's
 *   uses and its new-session window can be spent and checked.
 * Errors are Google's `{ error: { code, message, status } }`, always JSON; a bad key is a 400
 * `API_KEY_INVALID` and a missing one a 403, as the real API answers.
 */

export interface GeminiEmulatorOptions extends EmulatorOptions {
  /** The clock it checks times against, in epoch ms. Default `Date.now`. */
  now?: () => number;
}

export type GeminiEmulator = Emulator;

export const MINT_PATH = "/v1alpha/auth_tokens";
export const SESSION_PATH = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained";

const MAX_AHEAD_MS = 20 * 60 * 60 * 1000;
const DEFAULT_EXPIRE_MS = 30 * 60 * 1000;
const DEFAULT_NEW_SESSION_EXPIRE_MS = 60 * 1000;

/** The AuthToken fields a create request may carry (flat camelCase, as the SDK sends them). */
const AUTH_TOKEN_FIELDS = new Set(["name", "expireTime", "newSessionExpireTime", "uses", "bidiGenerateContentSetup", "fieldMask"]);
/** BidiGenerateContentSetup's fields on the Gemini Developer API, as the SDK writes them. */
const SETUP_FIELDS = new Set([
  "model",
  "generationConfig",
  "systemInstruction",
  "tools",
  "sessionResumption",
  "inputAudioTranscription",
  "outputAudioTranscription",
  "realtimeInputConfig",
  "contextWindowCompression",
  "proactivity",
  "avatarConfig",
  "safetySettings",
  "labels",
]);

/** An RFC 3339 instant as a protobuf Timestamp takes it in JSON. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** Comma-separated field paths; a segment may be an index, since the SDK lists an array's entries as `tools.0`. */
const FIELD_MASK = /^[A-Za-z_]\w*(\.\w+)*(,[A-Za-z_]\w*(\.\w+)*)*$/;

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  408: "DEADLINE_EXCEEDED",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  501: "NOT_IMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

export function googleErrorBody(code: number, message = `Emulated fault ${code}`): { error: { code: number; message: string; status: string } } {
  return { error: { code, message, status: STATUS_NAMES[code] ?? (code >= 500 ? "INTERNAL" : "UNKNOWN") } };
}

interface IssuedToken {
  usesLeft: number;
  expireAt: number;
  newSessionExpireAt: number;
}

export function createGeminiEmulator(options: GeminiEmulatorOptions): GeminiEmulator {
  const now = options.now ?? Date.now;
  const tokens = new Map<string, IssuedToken>();
  const kit = emulatorKit(options);
  const { stats } = kit;

  async function mint(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, googleErrorBody);
    if (fault) return fault;

    const key = request.headers.get("x-goog-api-key") ?? new URL(request.url).searchParams.get("key");
    if (!key) {
      return error(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (key !== options.apiKey) return invalidKey();

    const body = await jsonBody(request);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return error(400, "Invalid JSON payload received. Expected an object.");
    const fields = body as Record<string, unknown>;
    const problem = requestProblem(fields);
    if (problem) return error(400, problem);

    const at = now();
    forgetSpent(at);
    const expireAt = fields.expireTime === undefined ? at + DEFAULT_EXPIRE_MS : Date.parse(fields.expireTime as string);
    const newSessionExpireAt = fields.newSessionExpireTime === undefined ? at + DEFAULT_NEW_SESSION_EXPIRE_MS : Date.parse(fields.newSessionExpireTime as string);
    for (const [field, instant] of [["expire_time", expireAt], ["new_session_expire_time", newSessionExpireAt]] as const) {
      if (instant <= at) return error(400, `${field} must be in the future.`);
      if (instant - at >= MAX_AHEAD_MS) return error(400, `${field} must be less than 20 hours in the future.`);
    }

    const uses = fields.uses === undefined ? 1 : Number(fields.uses);
    const name = `auth_tokens/${crypto.randomUUID().replaceAll("-", "")}`;
    tokens.set(name, { usesLeft: uses === 0 ? Number.POSITIVE_INFINITY : uses, expireAt, newSessionExpireAt });
    stats.tokensIssued++;
    // The other AuthToken fields are input only: the answer names the token and nothing else.
    return Response.json({ name });
  }

  /** A token past its new-session window can start nothing more, so it need not be kept. */
  function forgetSpent(at: number) {
    for (const [name, token] of tokens) if (at >= Math.min(token.newSessionExpireAt, token.expireAt)) tokens.delete(name);
  }

  /** The stand-in for the constrained WebSocket's handshake: each start spends one use. */
  function startSession(request: Request): Response {
    const name = new URL(request.url).searchParams.get("access_token");
    const token = name ? tokens.get(name) : undefined;
    const at = now();
    if (!token || token.usesLeft <= 0 || at >= token.newSessionExpireAt || at >= token.expireAt) {
      return error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    }
    token.usesLeft--;
    stats.sessionsStarted++;
    return Response.json({ setupComplete: {} });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === MINT_PATH && request.method === "POST") return mint(request);
    if (pathname === SESSION_PATH && request.method === "GET") return startSession(request);
    return error(404, `Method not found.`);
  }

  return kit.emulator(handle, googleErrorBody);
}

/** What is wrong with a create request, in the words of Google's JSON parser where it has them. */
function requestProblem(fields: Record<string, unknown>): string | undefined {
  for (const field of Object.keys(fields)) {
    if (!AUTH_TOKEN_FIELDS.has(field)) return `Invalid JSON payload received. Unknown name "${field}": Cannot find field.`;
  }
  const { uses, expireTime, newSessionExpireTime, bidiGenerateContentSetup: setup, fieldMask } = fields;
  if (uses !== undefined) {
    const number = typeof uses === "string" && /^-?\d+$/.test(uses) ? Number(uses) : uses;
    if (typeof number !== "number" || !Number.isInteger(number)) return `Invalid value at 'uses' (TYPE_INT32), ${JSON.stringify(uses)}`;
    if (number < 0) return "uses must be zero (unlimited) or more.";
  }
  for (const [field, proto, value] of [["expireTime", "expire_time", expireTime], ["newSessionExpireTime", "new_session_expire_time", newSessionExpireTime]] as const) {
    if (value === undefined) continue;
    if (typeof value !== "string" || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
      return `Invalid value at '${proto}' (type.googleapis.com/google.protobuf.Timestamp), Field '${field}', Invalid time format: ${JSON.stringify(value)}`;
    }
  }
  if (setup !== undefined) {
    if (typeof setup !== "object" || setup === null || Array.isArray(setup)) return "Invalid value at 'bidi_generate_content_setup': expected an object.";
    for (const field of Object.keys(setup)) {
      if (!SETUP_FIELDS.has(field)) return `Invalid JSON payload received. Unknown name "${field}" at 'bidi_generate_content_setup': Cannot find field.`;
    }
    const model = (setup as Record<string, unknown>).model;
    if (typeof model !== "string" || !/^(models|tunedModels)\/[A-Za-z0-9._-]+$/.test(model)) {
      return "bidi_generate_content_setup.model must name a model as models/{model}.";
    }
  }
  if (fieldMask !== undefined && (typeof fieldMask !== "string" || !FIELD_MASK.test(fieldMask))) {
    return `Invalid value at 'field_mask' (type.googleapis.com/google.protobuf.FieldMask), ${JSON.stringify(fieldMask)}`;
  }
  return undefined;
}

function invalidKey(): Response {
  const message = "API key not valid. Please pass a valid API key.";
  const body = googleErrorBody(400, message) as { error: Record<string, unknown> };
  body.error.details = [
    {
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: "API_KEY_INVALID",
      domain: "googleapis.com",
      metadata: { service: "generativelanguage.googleapis.com" },
    },
  ];
  return Response.json(body, { status: 400 });
}

function error(code: number, message: string): Response {
  return Response.json(googleErrorBody(code, message), { status: code });
}
