/**
 * What the defect suites share: a handler on a loopback port in front of the Anam emulator on
 * another, users known by their bearer token, and the standalone server in a child process.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { createTokenHandler, type TokenHandler, type TokenHandlerOptions } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { PERSONAS } from "../support/personas.ts";
export { standaloneServer, type StandaloneServer } from "../support/standalone.ts";
import { TEST_API_KEY, capturingLogger, listen, startUpstream, type Upstream } from "../support/servers.ts";

export { closeAll } from "../support/servers.ts";
export { PERSONAS, TEST_API_KEY };

/** `Authorization: Bearer user:<id>` signs in as `<id>`: enough users for any flood. */
export function authenticate(request: Request): { id: string } | null {
  const match = /^Bearer user:(\S{1,100})$/.exec(request.headers.get("Authorization") ?? "");
  return match ? { id: match[1]! } : null;
}

export interface Gateway {
  upstream: Upstream;
  handler: TokenHandler;
  /** The token route's URL; the usage route is `${url}/usage`. */
  url: string;
  logger: ReturnType<typeof capturingLogger>;
  /** POSTs `body` to the token route as `user`. */
  mint(user: string, body?: unknown): Promise<Response>;
  /** POSTs a usage report as `user`. */
  report(user: string, token: string, event: "started" | "ended" | "failed", extra?: Record<string, unknown>): Promise<Response>;
}

type GatewayOptions = Omit<TokenHandlerOptions, "authenticate" | "provider" | "personas"> & {
  upstream?: Upstream;
  retry?: Parameters<typeof anam>[0]["retry"];
};

/** The handler under test, on Anam's emulator, with one persona `support`, over real HTTP. */
export async function gateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { upstream: given, retry, ...rest } = options;
  const upstream = given ?? (await startUpstream());
  const logger = capturingLogger();
  const handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry }),
    authenticate,
    personas: { support: PERSONAS.support },
    logger,
    ...rest,
  } as TokenHandlerOptions);
  const url = `${(await listen("handler", handler)).url}/api/session-token`;
  const post = (path: string, user: string, body: unknown) =>
    fetch(path, { method: "POST", headers: { Authorization: `Bearer user:${user}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return {
    upstream,
    handler,
    url,
    logger,
    mint: (user, body = { personaType: "support" }) => post(url, user, body),
    // `sessionToken`, as Anam's guide names it, which the usage route takes for `token`.
    report: (user, token, event, extra = {}) => post(`${url}/usage`, user, { sessionToken: token, event, ...extra }),
  };
}

/** The token of a 200 answer, or a failure naming the status and body. */
export async function tokenOf(response: Response): Promise<string> {
  const text = await response.text();
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${text}`);
  const answer = JSON.parse(text) as { token?: string; sessionToken?: string };
  return (answer.token ?? answer.sessionToken)!;
}


/** A TOLLGATE_PERSONAS file offering Anam's persona `support`, for requests `{ personaType: "support" }`. */
export function personasFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "tollgate-personas-")), "personas.json");
  writeFileSync(file, JSON.stringify({ support: PERSONAS.support }));
  return file;
}

/** A random HS256 secret of 32 bytes, as hex. */
export function randomSecret(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A user's JWT as an app's login would sign it: `sub`, the minting claim, and `exp` unless told otherwise. */
export function userJwt(secret: string, userId: string, options: { expiresIn?: string | null } = {}): Promise<string> {
  const jwt = new SignJWT({ canAccessPersonas: true }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(userId).setIssuedAt();
  if (options.expiresIn !== null) jwt.setExpirationTime(options.expiresIn ?? "1h");
  return jwt.sign(new TextEncoder().encode(secret));
}
