import { SignJWT, jwtVerify } from "jose";
import { digest } from "../../canonical.ts";
import { authorization, emulatorKit, jsonBody, type Emulator, type EmulatorOptions } from "../emulator.ts";

/**
 * Anam's API as a fetch handler, as its docs and its JS SDK describe it (SOURCES.md):
 * - `POST /v1/auth/session-token` checks the API key and the persona config and answers
 *   `{ sessionToken }`, an HS256 JWT with `exp`, and the `accountId` and `type` claims that the SDK
 *   reads from it before it calls anything;
 * - `POST /v1/engine/session`, which the SDK calls with the token as bearer, redeems a token once and
 *   answers the fields the SDK reads (`sessionId`, `engineHost`, `engineProtocol`,
 *   `signallingEndpoint`, `clientConfig`). Every answer is JSON, errors too: the SDK parses the body
 *   before it looks at the status.
 */

export interface AnamEmulatorOptions extends EmulatorOptions {
  /** Keys it knows but that lack permission to mint: answered with 403. */
  forbiddenKeys?: string[];
  /** Persona ids a stateful config may name; any other is a 404. */
  personaIds?: string[];
  /** HS256 secret for the tokens it signs. Default: random, per emulator. */
  signingSecret?: Uint8Array;
  /** Lifetime of a token. Default 3600 s, as Anam's. */
  tokenLifetimeSeconds?: number;
  /** The `engineHost` a session start names, where the SDK opens its signalling socket. Default `localhost`. */
  engineHost?: string;
  /** `http` or `https`: the SDK connects to `ws://` or `wss://` accordingly. Default `http`. */
  engineProtocol?: "http" | "https";
  /** The signalling path under `engineHost`. Default `/ws`. */
  signallingEndpoint?: string;
}

export type AnamEmulator = Emulator;

const MINT_PATH = "/v1/auth/session-token";
const SESSION_PATH = "/v1/engine/session";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const errorBody = (status: number, message = `Emulated fault ${status}`) => ({ message, error: message });

export function createAnamEmulator(options: AnamEmulatorOptions): AnamEmulator {
  const secret = options.signingSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  const personaIds = new Set(options.personaIds ?? []);
  const forbiddenKeys = new Set(options.forbiddenKeys ?? []);
  const accountId = crypto.randomUUID();
  const redeemed = new Set<string>();
  const kit = emulatorKit(options);
  const { stats } = kit;

  async function mint(request: Request): Promise<Response> {
    const fault = await kit.beforeMint(request, errorBody);
    if (fault) return fault;

    const key = authorization(request, "Bearer");
    if (key !== options.apiKey && !(key && forbiddenKeys.has(key))) return error(401, "Invalid API key");
    if (forbiddenKeys.has(key!)) return error(403, "This API key may not create session tokens");

    const body = (await jsonBody(request)) as { personaConfig?: unknown } | undefined;
    if (body === undefined) return error(400, "Request body must be JSON");
    const config = body?.personaConfig;
    const problem = configProblem(config);
    if (problem) return error(problem.status, problem.message);

    const type = "personaId" in (config as object) ? "stateful" : "ephemeral";
    const sessionToken = await new SignJWT({ accountId, type, cfg: await digest(config) })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${lifetime}s`)
      .sign(secret);
    stats.tokensIssued++;
    return Response.json({ sessionToken });
  }

  function configProblem(config: unknown): { status: number; message: string } | undefined {
    if (typeof config !== "object" || config === null) return { status: 400, message: "personaConfig is required" };
    const fields = config as Record<string, unknown>;
    if ("personaId" in fields) {
      if (typeof fields.personaId !== "string" || !UUID.test(fields.personaId)) return { status: 400, message: "personaId must be a UUID" };
      if (!personaIds.has(fields.personaId)) return { status: 404, message: "Persona not found" };
      return undefined;
    }
    for (const field of ["avatarId", "voiceId"]) {
      const value = fields[field];
      if (typeof value !== "string" || !UUID.test(value)) return { status: 400, message: `${field} must be a UUID` };
    }
    return undefined;
  }

  /** Starting a session spends the token: a second start with it is refused. */
  async function startSession(request: Request): Promise<Response> {
    const token = authorization(request, "Bearer");
    if (!token) return error(401, "Session token required");
    let jti: string | undefined;
    try {
      const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"] });
      jti = payload.jti;
    } catch {
      return error(401, "Session token is invalid or expired");
    }
    if (!jti || redeemed.has(jti)) return error(401, "Session token has already been used");
    redeemed.add(jti);
    stats.sessionsStarted++;
    return Response.json({
      sessionId: crypto.randomUUID(),
      engineHost: options.engineHost ?? "localhost",
      engineProtocol: options.engineProtocol ?? "http",
      signallingEndpoint: options.signallingEndpoint ?? "/ws",
      clientConfig: { heartbeatIntervalSeconds: 5, maxWsReconnectionAttempts: 0, iceServers: [] },
    });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== MINT_PATH && pathname !== SESSION_PATH) return error(404, "Not found");
    if (request.method !== "POST") return error(405, "Method not allowed");
    return pathname === MINT_PATH ? mint(request) : startSession(request);
  }

  return kit.emulator(handle, errorBody);
}

function error(status: number, message: string): Response {
  return Response.json(errorBody(status, message), { status });
}
