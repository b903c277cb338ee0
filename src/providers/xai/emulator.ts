import { authorization, emulatorKit, jsonBody, type Emulator, type EmulatorOptions } from "../emulator.ts";

/**
 * xAI's Voice Agent client secrets as a fetch handler, as xAI's docs and the clients that call it
 * describe them (SOURCES.md): `POST /v1/realtime/client_secrets` with the API key as bearer and
 * `{ expires_after?: { seconds } }` (at most 3600, default 600) answers `{ value, expires_at }`.
 * It refuses `session` and `expires_after.anchor`, which xAI's guide says it does not support.
 * Errors are xAI's `{ code, error }`; a wrong key is a 400, as xAI answers one.
 */

export interface XaiEmulatorOptions extends EmulatorOptions {
  /** The clock, in epoch ms. Default `Date.now`. */
  now?: () => number;
}

export type XaiEmulator = Emulator;

const MINT_PATH = "/v1/realtime/client_secrets";
const DEFAULT_SECONDS = 600;
const MIN_SECONDS = 1;
const MAX_SECONDS = 3600;

const errorBody = (status: number, message = `Emulated fault ${status}`) => ({ code: codeOf(status), error: message });

function codeOf(status: number): string {
  if (status === 400) return "invalid-argument";
  if (status === 401) return "unauthenticated";
  if (status === 403) return "permission-denied";
  if (status === 404) return "not-found";
  if (status === 429) return "resource-exhausted";
  return "internal";
}

function error(status: number, message: string): Response {
  return Response.json(errorBody(status, message), { status });
}

export function createXaiEmulator(options: XaiEmulatorOptions): XaiEmulator {
  const now = options.now ?? Date.now;
  const kit = emulatorKit(options);
  const { stats } = kit;

  async function mint(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;

    const key = authorization(request, "Bearer");
    if (key === undefined) return error(401, "No API key provided. Pass your API key in the Authorization header as a Bearer token.");
    if (key !== options.apiKey) return error(400, "Incorrect API key provided. You can obtain an API key from https://console.x.ai.");

    const body = await jsonBody(request);
    if (!isObject(body)) return error(400, "The request body must be a JSON object.");
    const problem = requestProblem(body);
    if (problem) return error(400, problem);

    const seconds = (body.expires_after as { seconds?: number } | undefined)?.seconds ?? DEFAULT_SECONDS;
    stats.tokensIssued++;
    return Response.json({ value: `xai-realtime-${randomHex(24)}`, expires_at: Math.floor(now() / 1000) + seconds });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== MINT_PATH) return error(404, `No route for ${request.method} ${pathname}`);
    if (request.method !== "POST") return error(405, `Method ${request.method} is not allowed for ${pathname}`);
    return mint(request);
  }

  return kit.emulator(handle, errorBody);
}

function requestProblem(body: Record<string, unknown>): string | undefined {
  if ("session" in body) return 'The "session" field is not supported on this endpoint.';
  for (const field of Object.keys(body)) if (field !== "expires_after") return `Unknown field "${field}".`;
  const expiresAfter = body.expires_after;
  if (expiresAfter === undefined) return undefined;
  if (!isObject(expiresAfter)) return '"expires_after" must be an object.';
  if ("anchor" in expiresAfter) return 'The "expires_after.anchor" field is not supported on this endpoint.';
  for (const field of Object.keys(expiresAfter)) if (field !== "seconds") return `Unknown field "expires_after.${field}".`;
  const seconds = expiresAfter.seconds;
  if (seconds === undefined) return undefined;
  if (typeof seconds !== "number" || !Number.isInteger(seconds)) return '"expires_after.seconds" must be an integer.';
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return `"expires_after.seconds" must be between ${MIN_SECONDS} and ${MAX_SECONDS}, got ${seconds}.`;
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
