import { emulatorKit, type Emulator, type EmulatorOptions } from "../emulator.ts";
import { MAX_EXPIRES_IN_SECONDS, MAX_SESSION_DURATION_SECONDS, MIN_EXPIRES_IN_SECONDS, MIN_SESSION_DURATION_SECONDS } from "./schema.ts";

/**
 * AssemblyAI's Universal Streaming token API as a fetch handler, as its docs and its JS SDK describe
 * it (SOURCES.md):
 * - `GET /v3/token?expires_in_seconds=..[&max_session_duration_seconds=..]` with the raw API key as
 *   `Authorization` answers `{ token, expires_in_seconds }`; errors are `{ error }`, the body the
 *   SDK reads its message from;
 * - `GET /v3/ws?token=..` stands in for the WebSocket handshake the browser makes (a fetch handler
 *   cannot upgrade): it spends the token, which opens one session, within its window, and answers the
 *   `Begin` message the stream would send first, `{ type, id, expires_at }`, with the session's end
 *   from `max_session_duration_seconds`.
 */

export type AssemblyAIEmulatorOptions = EmulatorOptions;

export type AssemblyAIEmulator = Emulator;

const TOKEN_PATH = "/v3/token";
const STREAM_PATH = "/v3/ws";

/** The close code AssemblyAI's SDK names AuthFailed ("Not Authorized"). */
const AUTH_FAILED_CLOSE_CODE = 4001;

interface IssuedToken {
  /** Epoch ms after which the token can no longer open a stream. */
  redeemBy: number;
  maxSessionSeconds: number;
  used: boolean;
}

const errorBody = (status: number, message = `Emulated fault ${status}`) => ({ error: message });

export function createAssemblyAIEmulator(options: AssemblyAIEmulatorOptions): AssemblyAIEmulator {
  const issued = new Map<string, IssuedToken>();
  const kit = emulatorKit(options);

  async function mint(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;

    // The key itself, with no scheme in front of it.
    if (request.headers.get("Authorization") !== options.apiKey) return error(401, "Authentication error, API token missing/invalid");

    const query = new URL(request.url).searchParams;
    const expiresIn = wholeSeconds(query.get("expires_in_seconds"));
    if (expiresIn === undefined || expiresIn < MIN_EXPIRES_IN_SECONDS || expiresIn > MAX_EXPIRES_IN_SECONDS) {
      return error(400, `expires_in_seconds is required and must be an integer between ${MIN_EXPIRES_IN_SECONDS} and ${MAX_EXPIRES_IN_SECONDS}`);
    }
    const sessionParam = query.get("max_session_duration_seconds");
    const maxSessionSeconds = sessionParam === null ? MAX_SESSION_DURATION_SECONDS : wholeSeconds(sessionParam);
    if (maxSessionSeconds === undefined || maxSessionSeconds < MIN_SESSION_DURATION_SECONDS || maxSessionSeconds > MAX_SESSION_DURATION_SECONDS) {
      return error(400, `max_session_duration_seconds must be an integer between ${MIN_SESSION_DURATION_SECONDS} and ${MAX_SESSION_DURATION_SECONDS}`);
    }

    forgetLapsed();
    const token = randomHex(32);
    issued.set(token, { redeemBy: Date.now() + expiresIn * 1000, maxSessionSeconds, used: false });
    kit.stats.tokensIssued++;
    return Response.json({ token, expires_in_seconds: expiresIn });
  }

  /** A token past its window can open nothing, so the emulator need not remember it for long. */
  function forgetLapsed() {
    const now = Date.now();
    for (const [token, record] of issued) if (record.redeemBy < now) issued.delete(token);
  }

  /** Opening a stream spends the token: a second one with it is refused, as is one past its window. */
  function openStream(request: Request): Response {
    const token = new URL(request.url).searchParams.get("token");
    const record = token === null ? undefined : issued.get(token);
    if (!record) return streamRefused("Invalid temporary token");
    if (record.used) return streamRefused("Temporary token has already been used");
    if (Date.now() > record.redeemBy) return streamRefused("Temporary token has expired");
    record.used = true;
    kit.stats.sessionsStarted++;
    const now = Math.floor(Date.now() / 1000);
    return Response.json({ type: "Begin", id: crypto.randomUUID(), expires_at: now + record.maxSessionSeconds });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== TOKEN_PATH && pathname !== STREAM_PATH) return error(404, "Not found");
    if (request.method !== "GET") return error(405, "Method not allowed");
    return pathname === TOKEN_PATH ? mint(request) : openStream(request);
  }

  return kit.emulator(handle, errorBody);
}

/** A query value that is a whole number, or undefined. */
function wholeSeconds(value: string | null): number | undefined {
  return value !== null && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function error(status: number, message: string): Response {
  return Response.json(errorBody(status, message), { status });
}

/** The stream closes with AuthFailed; here the close code travels in the body of a 401. */
function streamRefused(reason: string): Response {
  return Response.json({ error: reason, code: AUTH_FAILED_CLOSE_CODE }, { status: 401 });
}
