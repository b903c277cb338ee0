import { SignJWT } from "jose";
import { authorization, emulatorKit, type Emulator, type EmulatorOptions } from "../emulator.ts";
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS } from "./schema.ts";

/**
 * Deepgram's token grant as a fetch handler, as its docs and its JS SDK describe it (SOURCES.md):
 * `POST /v1/auth/grant` with `Authorization: Token <key>` and an optional JSON body
 * `{ ttl_seconds }` (1..3600, default 30) answers `{ access_token, expires_in }`, an HS256 JWT whose
 * `exp` is `ttl_seconds` away. Errors carry Deepgram's own body, `{ err_code, err_msg, request_id }`.
 * A grant may be used until it expires, so nothing here spends it.
 */

export interface DeepgramEmulatorOptions extends EmulatorOptions {
  /** Keys it knows but that lack the Member role a grant needs: answered with 403. */
  forbiddenKeys?: string[];
  /** HS256 secret for the JWTs it grants. Default: random, per emulator. */
  signingSecret?: Uint8Array;
}

export type DeepgramEmulator = Emulator;

const GRANT_PATH = "/v1/auth/grant";

/** Deepgram's error codes by status, as its error reference names them. */
const ERROR_CODES: Record<number, string> = {
  400: "Bad Request",
  401: "INVALID_AUTH",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  429: "TOO_MANY_REQUESTS",
};

function errorBody(status: number, message = `Emulated fault ${status}`, code = ERROR_CODES[status] ?? "INTERNAL_SERVER_ERROR") {
  return { err_code: code, err_msg: message, request_id: crypto.randomUUID() };
}

export function createDeepgramEmulator(options: DeepgramEmulatorOptions): DeepgramEmulator {
  const secret = options.signingSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const forbiddenKeys = new Set(options.forbiddenKeys ?? []);
  const kit = emulatorKit(options);

  async function grant(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;

    const key = authorization(request, "Token");
    if (key === undefined || (key !== options.apiKey && !forbiddenKeys.has(key))) return error(401, "Invalid credentials.");
    if (forbiddenKeys.has(key)) return error(403, "Insufficient permissions.", "FORBIDDEN");

    const body = await optionalJsonBody(request);
    if (body === INVALID) return error(400, "Invalid JSON body.", "INVALID_JSON");
    const ttl = (body as { ttl_seconds?: unknown } | undefined)?.ttl_seconds ?? DEFAULT_TTL_SECONDS;
    if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
      return error(400, `ttl_seconds must be a number between ${MIN_TTL_SECONDS} and ${MAX_TTL_SECONDS}.`);
    }

    const issuedAt = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({ scopes: ["usage::write"] })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setJti(crypto.randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + Math.floor(ttl))
      .sign(secret);
    kit.stats.tokensIssued++;
    return Response.json({ access_token: accessToken, expires_in: ttl });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== GRANT_PATH) return error(404, "Not found.");
    if (request.method !== "POST") return error(405, "Method not allowed.");
    return grant(request);
  }

  return kit.emulator(handle, errorBody);
}

const INVALID = Symbol("invalid JSON");

/** The body as JSON, undefined when there is none (a grant needs none), or INVALID. */
async function optionalJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : INVALID;
  } catch {
    return INVALID;
  }
}

function error(status: number, message: string, code?: string): Response {
  return Response.json(errorBody(status, message, code), { status });
}
