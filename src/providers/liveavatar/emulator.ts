import { SignJWT, jwtVerify } from "jose";
import { authorization, emulatorKit, jsonBody, type Emulator, type EmulatorOptions } from "../emulator.ts";

/**
 * LiveAvatar's API as a fetch handler, as its docs and its web SDK describe it (SOURCES.md):
 * - `POST /v1/sessions/token` checks `X-API-KEY` and the FULL-mode body and answers
 *   `{ code, data: { session_id, session_token }, message }`; the token is an HS256 JWT;
 * - `POST /v1/sessions/start`, which the web SDK calls with the token as bearer, starts the session
 *   once per token (a second start is refused) and answers 201 with the fields the SDK reads
 *   (`session_id`, `livekit_url`, `livekit_client_token`, `max_session_duration`).
 * Every answer is JSON in LiveAvatar's envelope: the web SDK reads `code` and `message` from it,
 * errors included, and a validation error lists its problems in `data`.
 */

export interface LiveAvatarEmulatorOptions extends EmulatorOptions {
  /** The longest `max_session_duration` the account's plan allows. Default 3600 s. */
  planMaxSessionSeconds?: number;
  /** `exp` of the session tokens it signs, from now. Default 3600 s. */
  tokenLifetimeSeconds?: number;
  /** The `livekit_url` a session start names. Default `ws://localhost:7880`. */
  livekitUrl?: string;
  /** HS256 secret for the tokens it signs. Default: random, per emulator. */
  signingSecret?: Uint8Array;
}

export type LiveAvatarEmulator = Emulator;

const MINT_PATH = "/v1/sessions/token";
const START_PATH = "/v1/sessions/start";
/** What the web SDK takes for success (SessionApiClient's SUCCESS_CODE). */
export const SUCCESS_CODE = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const TOP_LEVEL_FIELDS = new Set([
  "avatar_id", "mode", "is_sandbox", "video_settings", "max_session_duration", "avatar_persona", "voice_agent",
  "interactivity_type", "llm_configuration_id", "dynamic_variables", "memory",
]);

interface Problem {
  loc: string[];
  message: string;
  type: string;
}

function errorBody(status: number, message = `Emulated fault ${status}`, data: Problem[] | null = null) {
  return { code: status >= 500 ? 5000 : 4000, data, message };
}

export function createLiveAvatarEmulator(options: LiveAvatarEmulatorOptions): LiveAvatarEmulator {
  const secret = options.signingSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  const planMax = options.planMaxSessionSeconds ?? 3600;
  const started = new Set<string>();
  const kit = emulatorKit(options);
  const { stats } = kit;

  async function mint(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;

    if (request.headers.get("X-API-KEY") !== options.apiKey) return error(401, "Invalid API key");
    const body = await jsonBody(request);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return error(422, "Validation error", [{ loc: ["body"], message: "Body must be a JSON object", type: "model_attributes_type" }]);
    }
    const problems = bodyProblems(body as Record<string, unknown>, planMax);
    if (problems.length > 0) return error(422, "Validation error", problems);

    const fields = body as Record<string, unknown>;
    const sessionId = crypto.randomUUID();
    const sessionToken = await new SignJWT({ session_id: sessionId, max_session_duration: (fields.max_session_duration as number | undefined) ?? null })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${lifetime}s`)
      .sign(secret);
    stats.tokensIssued++;
    return Response.json({ code: SUCCESS_CODE, data: { session_id: sessionId, session_token: sessionToken }, message: "Session token created" });
  }

  /** Starting a session spends the token: a second start with it is refused. */
  async function start(request: Request): Promise<Response> {
    const token = authorization(request, "Bearer");
    if (!token) return error(401, "Session token required");
    let claims: { jti?: string; session_id?: unknown; max_session_duration?: unknown };
    try {
      claims = (await jwtVerify(token, secret, { algorithms: ["HS256"] })).payload;
    } catch {
      return error(401, "Session token is invalid or expired");
    }
    if (!claims.jti || started.has(claims.jti)) return error(401, "Session token has already been used");
    started.add(claims.jti);
    stats.sessionsStarted++;
    const sessionId = String(claims.session_id);
    const livekitToken = await new SignJWT({ video: { room: sessionId, roomJoin: true } })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("liveavatar-emulator")
      .setSubject(`client-${sessionId}`)
      .setNotBefore(new Date())
      .setExpirationTime("1h")
      .sign(secret);
    return Response.json(
      {
        code: SUCCESS_CODE,
        data: {
          session_id: sessionId,
          livekit_url: options.livekitUrl ?? "ws://localhost:7880",
          livekit_client_token: livekitToken,
          max_session_duration: typeof claims.max_session_duration === "number" ? claims.max_session_duration : null,
        },
        message: "Session started",
      },
      { status: 201 },
    );
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== MINT_PATH && pathname !== START_PATH) return error(404, "Not found");
    if (request.method !== "POST") return error(405, "Method not allowed");
    return pathname === MINT_PATH ? mint(request) : start(request);
  }

  return kit.emulator(handle, errorBody);
}

/**
 * The FULL-mode checks: `avatar_id` a UUID, `mode` FULL, `max_session_duration` within the plan,
 * `avatar_persona` and `voice_agent` not both, and no field the API does not have (stricter than
 * the API may be, so that a misnamed field fails here rather than being dropped there).
 */
function bodyProblems(body: Record<string, unknown>, planMax: number): Problem[] {
  const problems: Problem[] = [];
  const problem = (field: string, message: string, type = "value_error") => problems.push({ loc: ["body", field], message, type });
  for (const field of Object.keys(body)) if (!TOP_LEVEL_FIELDS.has(field)) problem(field, "Extra inputs are not permitted", "extra_forbidden");
  if (typeof body.avatar_id !== "string" || !UUID.test(body.avatar_id)) problem("avatar_id", "avatar_id must be a UUID", "uuid_parsing");
  if (body.mode !== undefined && body.mode !== "FULL") problem("mode", "Input should be 'FULL'", "literal_error");
  if (body.is_sandbox !== undefined && typeof body.is_sandbox !== "boolean") problem("is_sandbox", "Input should be a valid boolean", "bool_type");
  const duration = body.max_session_duration;
  if (duration !== undefined) {
    if (typeof duration !== "number" || !Number.isInteger(duration) || duration < 1) problem("max_session_duration", "Input should be a positive integer", "int_type");
    else if (duration > planMax) problem("max_session_duration", `Must be <= the configured limit for your subscription tier (${planMax})`);
  }
  if (body.avatar_persona !== undefined && body.voice_agent !== undefined) problem("voice_agent", "voice_agent and avatar_persona are mutually exclusive");
  for (const [field, ids] of [["avatar_persona", ["voice_id", "context_id"]], ["voice_agent", ["id"]]] as const) {
    const value = body[field];
    if (value === undefined) continue;
    if (typeof value !== "object" || value === null) {
      problem(field, "Input should be an object", "model_type");
      continue;
    }
    for (const id of ids) {
      const given = (value as Record<string, unknown>)[id];
      if ((given !== undefined || field === "voice_agent") && (typeof given !== "string" || !UUID.test(given))) problem(`${field}.${id}`, `${id} must be a UUID`, "uuid_parsing");
    }
  }
  return problems;
}

function error(status: number, message: string, data: Problem[] | null = null): Response {
  return Response.json(errorBody(status, message, data), { status });
}
