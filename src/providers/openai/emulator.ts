import { authorization, emulatorKit, type Emulator, type EmulatorOptions } from "../emulator.ts";

/**
 * OpenAI's Realtime client secrets as a fetch handler, as the `openai` SDK's types describe them
 * (SOURCES.md):
 * - `POST /v1/realtime/client_secrets` checks the API key and the body (`expires_after` with
 *   `anchor: "created_at"` and `seconds` 10..7200, default 600; `session` of type `realtime` or
 *   `transcription`, with no parameter the SDK does not know) and answers
 *   `{ value: "ek_...", expires_at, session }`;
 * - `POST /v1/realtime/calls`, the browser's WebRTC offer with the secret as bearer, answers 201
 *   with an SDP answer while the secret is live, as often as it is called: a secret may start
 *   sessions until it expires. The answer mirrors the offer's media sections, so a browser
 *   accepts it; no media flows, since the emulator has no WebRTC stack. Pages call this route
 *   from their own origin, so it answers CORS preflights and lets them read `Location`.
 * Errors are OpenAI's `{ error: { message, type, param, code } }`.
 */

export interface OpenAIEmulatorOptions extends EmulatorOptions {
  /** The clock, in epoch ms: a test moves it to see a secret expire. Default `Date.now`. */
  now?: () => number;
}

export type OpenAIEmulator = Emulator;

const MINT_PATH = "/v1/realtime/client_secrets";
const CALLS_PATH = "/v1/realtime/calls";
const DEFAULT_SECONDS = 600;
const MIN_SECONDS = 10;
const MAX_SECONDS = 7200;
const DEFAULT_MODEL = "gpt-realtime";

/** The session fields of openai-node's RealtimeSessionCreateRequest and RealtimeTranscriptionSessionCreateRequest. */
const SESSION_FIELDS: Record<string, ReadonlySet<string>> = {
  realtime: new Set(["type", "audio", "include", "instructions", "max_output_tokens", "model", "output_modalities", "parallel_tool_calls", "prompt", "reasoning", "tool_choice", "tools", "tracing", "truncation"]),
  transcription: new Set(["type", "audio", "include"]),
};

interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

function errorBody(status: number, message?: string, param: string | null = null, code: string | null = null): { error: OpenAIError } {
  if (status === 429) return { error: { message: message ?? "Rate limit reached for requests", type: "requests", param, code: code ?? "rate_limit_exceeded" } };
  if (status >= 500) return { error: { message: message ?? "The server had an error while processing your request.", type: "server_error", param, code } };
  return { error: { message: message ?? `Emulated fault ${status}`, type: "invalid_request_error", param, code } };
}

function error(status: number, message: string, param: string | null = null, code: string | null = null): Response {
  return Response.json(errorBody(status, message, param, code), { status });
}

type Problem = { message: string; param: string; code: string };

export function createOpenAIEmulator(options: OpenAIEmulatorOptions): OpenAIEmulator {
  const now = options.now ?? Date.now;
  /** Each secret issued, with when it stops starting sessions (epoch ms). */
  const secrets = new Map<string, number>();
  const kit = emulatorKit(options);
  const { stats } = kit;

  async function mint(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, (status) => errorBody(status));
    if (fault) return fault;

    const key = authorization(request, "Bearer");
    if (key === undefined) {
      return error(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
    }
    if (key !== options.apiKey) {
      return error(401, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", null, "invalid_api_key");
    }

    // The SDK's `create()` may be called with no body at all: every field is optional.
    const text = await request.text();
    let body: unknown = {};
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        return error(400, "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.");
      }
    }
    if (!isObject(body)) return error(400, "The request body must be a JSON object.");

    const problem = requestProblem(body);
    if (problem) return error(400, problem.message, problem.param, problem.code);

    const expiresAfter = (body.expires_after ?? {}) as { seconds?: number };
    const createdAt = Math.floor(now() / 1000);
    const expiresAt = createdAt + (expiresAfter.seconds ?? DEFAULT_SECONDS);
    const value = `ek_${randomHex(16)}`;
    secrets.set(value, expiresAt * 1000);
    stats.tokensIssued++;
    return Response.json({ value, expires_at: expiresAt, session: effectiveSession(body.session) });
  }

  /** The browser's WebRTC offer: any number of calls per secret while it is live. */
  async function call(request: Request): Promise<Response> {
    const secret = authorization(request, "Bearer");
    const expiresAt = secret === undefined ? undefined : secrets.get(secret);
    if (expiresAt === undefined || now() >= expiresAt) {
      return error(401, "The client secret is invalid or has expired.", null, "invalid_api_key");
    }
    const contentType = request.headers.get("Content-Type") ?? "";
    if (!contentType.toLowerCase().startsWith("application/sdp")) {
      return error(400, "Content-Type must be application/sdp.", null, "invalid_content_type");
    }
    const answer = sdpAnswer(await request.text());
    if (typeof answer !== "string") return error(400, `The request body must be an SDP offer: ${answer.problem}.`, "sdp", "invalid_value");
    stats.sessionsStarted++;
    const callId = `rtc_${randomHex(12)}`;
    return new Response(answer, {
      status: 201,
      headers: { "Content-Type": "application/sdp", Location: `${CALLS_PATH}/${callId}` },
    });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== MINT_PATH && pathname !== CALLS_PATH) return error(404, `Invalid URL (${request.method} ${pathname})`, null, "unknown_url");
    if (pathname === CALLS_PATH) {
      if (request.method === "OPTIONS") return withCors(new Response(null, { status: 204 }));
      return withCors(request.method === "POST" ? await call(request) : methodNotAllowed(request, pathname));
    }
    return request.method === "POST" ? mint(request) : methodNotAllowed(request, pathname);
  }

  return kit.emulator(handle, (status) => errorBody(status));
}

function requestProblem(body: Record<string, unknown>): Problem | undefined {
  for (const field of Object.keys(body)) {
    if (field !== "expires_after" && field !== "session") return unknownParameter(field);
  }
  return expiresAfterProblem(body.expires_after) ?? sessionProblem(body.session);
}

function expiresAfterProblem(value: unknown): Problem | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return { message: "Invalid type for 'expires_after': expected an object.", param: "expires_after", code: "invalid_type" };
  for (const field of Object.keys(value)) {
    if (field !== "anchor" && field !== "seconds") return unknownParameter(`expires_after.${field}`);
  }
  if (value.anchor !== undefined && value.anchor !== "created_at") {
    return { message: "Invalid value for 'expires_after.anchor': only 'created_at' is supported.", param: "expires_after.anchor", code: "invalid_value" };
  }
  const seconds = value.seconds;
  if (seconds === undefined) return undefined;
  if (typeof seconds !== "number" || !Number.isInteger(seconds)) {
    return { message: "Invalid type for 'expires_after.seconds': expected an integer.", param: "expires_after.seconds", code: "invalid_type" };
  }
  if (seconds < MIN_SECONDS) {
    return { message: `Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= ${MIN_SECONDS}, but got ${seconds} instead.`, param: "expires_after.seconds", code: "integer_below_min_value" };
  }
  if (seconds > MAX_SECONDS) {
    return { message: `Invalid 'expires_after.seconds': integer above maximum value. Expected a value <= ${MAX_SECONDS}, but got ${seconds} instead.`, param: "expires_after.seconds", code: "integer_above_max_value" };
  }
  return undefined;
}

function sessionProblem(session: unknown): Problem | undefined {
  if (session === undefined) return undefined;
  if (!isObject(session)) return { message: "Invalid type for 'session': expected an object.", param: "session", code: "invalid_type" };
  if (session.type === undefined) return { message: "Missing required parameter: 'session.type'.", param: "session.type", code: "missing_required_parameter" };
  const fields = typeof session.type === "string" ? SESSION_FIELDS[session.type] : undefined;
  if (!fields) {
    return { message: "Invalid value for 'session.type': expected one of 'realtime' or 'transcription'.", param: "session.type", code: "invalid_value" };
  }
  for (const field of Object.keys(session)) {
    if (!fields.has(field)) return unknownParameter(`session.${field}`);
  }
  if (session.model !== undefined && (typeof session.model !== "string" || session.model === "")) {
    return { message: "Invalid type for 'session.model': expected a string.", param: "session.model", code: "invalid_type" };
  }
  return undefined;
}

function unknownParameter(param: string): Problem {
  return { message: `Unknown parameter: '${param}'.`, param, code: "unknown_parameter" };
}

/** The session as the answer states it: the request's fields over OpenAI's defaults. */
function effectiveSession(session: unknown): Record<string, unknown> {
  const requested = isObject(session) ? session : { type: "realtime" };
  const id = `sess_${randomHex(12)}`;
  if (requested.type === "transcription") {
    return { id, object: "realtime.transcription_session", expires_at: 0, ...requested, type: "transcription" };
  }
  return {
    id,
    object: "realtime.session",
    model: DEFAULT_MODEL,
    output_modalities: ["audio"],
    instructions: "",
    tools: [],
    tool_choice: "auto",
    max_output_tokens: "inf",
    tracing: null,
    truncation: "auto",
    prompt: null,
    expires_at: 0,
    ...requested,
    type: "realtime",
  };
}

function methodNotAllowed(request: Request, pathname: string): Response {
  return error(405, `Invalid method for URL (${request.method} ${pathname})`, null, "method_not_allowed");
}

/** The calls route is called by pages on their own origins, with a secret as bearer. */
function withCors(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("Access-Control-Allow-Origin", "*");
  headers.set("Access-Control-Allow-Methods", "POST");
  headers.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
  headers.set("Access-Control-Expose-Headers", "Location");
  return new Response(response.body, { status: response.status, headers });
}

/** What an answer sends for what an offer says it does. */
const ANSWER_DIRECTION: Record<string, string> = { sendrecv: "sendrecv", recvonly: "sendonly", sendonly: "recvonly", inactive: "inactive" };

/**
 * An SDP answer to `offer` that a browser accepts: its audio sections answered with Opus, its data
 * channel with SCTP, anything else refused (port 0), with ICE credentials and a DTLS fingerprint of
 * the emulator's own; or what is wrong with the offer.
 */
function sdpAnswer(offer: string): string | { problem: string } {
  if (!offer.startsWith("v=0")) return { problem: "it does not start with v=0" };
  const sections = offer.split(/\r?\n(?=m=)/).slice(1);
  if (sections.length === 0) return { problem: "it has no media section" };
  const transport = [
    `a=ice-ufrag:${randomHex(4)}`,
    `a=ice-pwd:${randomHex(12)}`,
    `a=fingerprint:sha-256 ${Array.from(crypto.getRandomValues(new Uint8Array(32)), (byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":")}`,
    "a=setup:active",
  ];
  const bundle: string[] = [];
  const media: string[] = [];
  for (const section of sections) {
    const [, kind, protocol, formats] = /^m=(\S+) \S+ (\S+) ?(.*)$/m.exec(section) ?? [];
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    if (!kind || mid === undefined) return { problem: "a media section has no m= line or no a=mid" };
    const opus = kind === "audio" ? /^a=rtpmap:(\d+) opus\/48000\/2/im.exec(section)?.[1] : undefined;
    if (opus !== undefined) {
      const direction = ANSWER_DIRECTION[/^a=(sendrecv|recvonly|sendonly|inactive)$/m.exec(section)?.[1] ?? "sendrecv"];
      media.push(`m=audio 9 ${protocol} ${opus}`, "c=IN IP4 0.0.0.0", ...transport, `a=mid:${mid}`, `a=${direction}`, "a=rtcp-mux", `a=rtpmap:${opus} opus/48000/2`);
      bundle.push(mid);
    } else if (kind === "application" && /webrtc-datachannel/.test(formats!)) {
      media.push(`m=application 9 ${protocol} webrtc-datachannel`, "c=IN IP4 0.0.0.0", ...transport, `a=mid:${mid}`, "a=sctp-port:5000");
      bundle.push(mid);
    } else {
      media.push(`m=${kind} 0 ${protocol} ${formats!.split(" ")[0]}`, "c=IN IP4 0.0.0.0", `a=mid:${mid}`, "a=inactive");
    }
  }
  if (bundle.length === 0) return { problem: "it offers neither Opus audio nor a data channel" };
  return [
    "v=0",
    `o=- ${Date.now()} 2 IN IP4 127.0.0.1`,
    "s=-",
    "t=0 0",
    `a=group:BUNDLE ${bundle.join(" ")}`,
    "a=msid-semantic: WMS",
    ...media,
    "",
  ].join("\r\n");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
