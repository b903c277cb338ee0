import { SignJWT, jwtVerify } from "jose";
import { digest } from "../canonical.ts";

/**
 * An Anam-compatible upstream as a fetch handler, for tests, examples and the zero-config server,
 * since the real API is not reachable offline. It behaves as Anam documents: it checks the API key,
 * validates the persona config, signs HS256 tokens that carry `exp`, and lets each token start one
 * session. Faults can be queued to rehearse what the real API does on a bad day.
 */

export interface AnamEmulatorOptions {
  /** The API key it accepts. */
  apiKey: string;
  /** Keys it knows but that lack permission to mint: answered with 403. */
  forbiddenKeys?: string[];
  /** Persona ids a stateful config may name; any other is a 404. */
  personaIds?: string[];
  /** HS256 secret for the tokens it signs. Default: random, per emulator. */
  signingSecret?: Uint8Array;
  /** Lifetime of a token. Default 3600 s, as Anam's. */
  tokenLifetimeSeconds?: number;
  /** Added to every mint, to look like a real network. Default 0. */
  latencyMs?: number;
}

/** What the next mint request gets instead of a token. Fields left out take plain defaults. */
export interface Fault {
  /** Default 500. */
  status?: number;
  /** Sent as the `Retry-After` header. */
  retryAfter?: number | string;
  /** The raw body. Default a JSON `{ message }`. */
  body?: string;
  /** Wait this long first (abandoned when the caller aborts). */
  delayMs?: number;
}

export interface AnamEmulatorStats {
  /** Requests to the mint endpoint, answered or not. */
  mintRequests: number;
  tokensIssued: number;
  sessionsStarted: number;
}

export interface AnamEmulator {
  fetch(request: Request): Promise<Response>;
  /** Queues faults; each one answers one mint request, in order, before tokens flow again. */
  inject(...faults: Fault[]): void;
  /** Drops the faults still queued. */
  clearFaults(): void;
  readonly stats: Readonly<AnamEmulatorStats>;
}

const MINT_PATH = "/v1/auth/session-token";
const SESSION_PATH = "/v1/engine/session";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAnamEmulator(options: AnamEmulatorOptions): AnamEmulator {
  const secret = options.signingSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  const personaIds = new Set(options.personaIds ?? []);
  const forbiddenKeys = new Set(options.forbiddenKeys ?? []);
  const faults: Fault[] = [];
  const redeemed = new Set<string>();
  const stats: AnamEmulatorStats = { mintRequests: 0, tokensIssued: 0, sessionsStarted: 0 };

  async function mint(request: Request): Promise<Response> {
    stats.mintRequests++;
    await pause(options.latencyMs ?? 0, request.signal);
    const fault = faults.shift();
    if (fault) return answerFault(fault, request.signal);

    const key = bearer(request);
    if (key !== options.apiKey && !(key && forbiddenKeys.has(key))) return error(401, "Invalid API key");
    if (forbiddenKeys.has(key!)) return error(403, "This API key may not create session tokens");

    let body: { personaConfig?: unknown };
    try {
      body = (await request.json()) as typeof body;
    } catch {
      return error(400, "Request body must be JSON");
    }
    const config = body?.personaConfig;
    const problem = configProblem(config);
    if (problem) return error(problem.status, problem.message);

    const sessionToken = await new SignJWT({ typ: "session", cfg: await digest(config) })
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
    const token = bearer(request);
    if (!token) return error(401, "Session token required");
    let jti: string | undefined;
    try {
      const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"] });
      if (payload.typ !== "session") return error(401, "Not a session token");
      jti = payload.jti;
    } catch {
      return error(401, "Session token is invalid or expired");
    }
    if (!jti || redeemed.has(jti)) return error(401, "Session token has already been used");
    redeemed.add(jti);
    stats.sessionsStarted++;
    return Response.json({ sessionId: crypto.randomUUID() });
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== MINT_PATH && pathname !== SESSION_PATH) return error(404, "Not found");
    if (request.method !== "POST") return error(405, "Method not allowed");
    return pathname === MINT_PATH ? mint(request) : startSession(request);
  }

  return {
    fetch: (request) => handle(request).catch(() => error(500, "Internal error")),
    inject: (...more) => void faults.push(...more),
    clearFaults: () => void faults.splice(0),
    stats,
  };
}

async function answerFault(fault: Fault, signal: AbortSignal): Promise<Response> {
  await pause(fault.delayMs ?? 0, signal);
  const status = fault.status ?? 500;
  const headers = new Headers({ "Content-Type": "application/json" });
  if (fault.retryAfter !== undefined) headers.set("Retry-After", String(fault.retryAfter));
  const body = fault.body ?? JSON.stringify({ message: `Emulated fault ${status}` });
  return new Response(body, { status, headers });
}

function bearer(request: Request): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "");
  return match?.[1];
}

function error(status: number, message: string): Response {
  return Response.json({ message }, { status });
}

/** Waits `ms`, or less if the caller goes away: a hung upstream must not outlive its client. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
