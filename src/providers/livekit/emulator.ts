import { jwtVerify } from "jose";
import { emulatorKit, type Emulator } from "../emulator.ts";

/**
 * A stand-in for a LiveKit server's token check, so that an emulated LiveKit provider has a real
 * `serverUrl`: `GET /rtc/validate?access_token=<jwt>` (and `/rtc/v1/validate`, where livekit-client
 * 2.x asks when its signalling socket fails) answers 200 for a token signed with the server's
 * secret, issued by its API key, not expired and allowed to join a room; 401 otherwise. Tokens are
 * signed locally, so there is no mint here: the kit's latency and faults apply to this check. It
 * has no signalling socket, so a browser's join always ends at this check. Like a LiveKit server,
 * it allows every origin (it relies on the token).
 */

export interface LiveKitEmulatorOptions {
  apiKey: string;
  apiSecret: string;
  /** Added to every check. Default 0. */
  latencyMs?: number;
}

export type LiveKitEmulator = Emulator;

const VALIDATE_PATHS = new Set(["/rtc/validate", "/rtc/v1/validate"]);

const errorBody = (status: number, message = `Emulated fault ${status}`) => ({ code: status, message });

export function createLiveKitEmulator(options: LiveKitEmulatorOptions): LiveKitEmulator {
  const secret = new TextEncoder().encode(options.apiSecret);
  const kit = emulatorKit(options);

  async function validate(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;
    const token = new URL(request.url).searchParams.get("access_token");
    if (!token) return error(401, "no access_token given");
    let video: { room?: unknown; roomJoin?: unknown } | undefined;
    try {
      const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"], issuer: options.apiKey, requiredClaims: ["exp", "sub"] });
      video = payload.video as typeof video;
    } catch {
      return error(401, "invalid token: bad signature, wrong API key, or expired");
    }
    if (video?.roomJoin !== true || typeof video.room !== "string" || video.room === "") return error(401, "token has no permission to join a room");
    kit.stats.sessionsStarted++;
    return Response.json({ message: "success" });
  }

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method === "OPTIONS") return new Response(null, { status: 204 });
    if (!VALIDATE_PATHS.has(pathname)) return error(404, "Not found");
    if (request.method !== "GET") return error(405, "Method not allowed");
    return validate(request);
  }

  /** CORS as a LiveKit server has it: every origin allowed, and every request header. */
  async function handle(request: Request): Promise<Response> {
    const response = await route(request);
    const headers = new Headers(response.headers);
    headers.set("Access-Control-Allow-Origin", request.headers.get("Origin") ?? "*");
    headers.append("Vary", "Origin");
    if (request.method === "OPTIONS") {
      headers.set("Access-Control-Allow-Methods", "GET, POST");
      headers.set("Access-Control-Allow-Headers", request.headers.get("Access-Control-Request-Headers") ?? "*");
    }
    return new Response(response.body, { status: response.status, headers });
  }

  return kit.emulator(handle, errorBody);
}

function error(status: number, message: string): Response {
  return Response.json(errorBody(status, message), { status });
}
