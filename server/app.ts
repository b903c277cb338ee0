import { TollgateError, consoleLogger, createTokenHandler, problemResponse, withServerSpan, type Logger, type ProfileSpec } from "../src/index.ts";
import type { Emulator } from "../src/providers/emulator.ts";
import { redisStore } from "../adapters/redis.ts";
import { serverAuthenticator, signUserToken } from "./auth.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import { profileCosts, type WorstCase } from "./cost.ts";
import { loadProfiles } from "./profiles.ts";
import { createDemo, DEMO_PATH, type Demo } from "./demo/index.ts";
import { instrumentStore } from "../src/telemetry/index.ts";
import { storeReadiness, type StoreCheck } from "./readiness.ts";
import { withRequestFields, withRequestLog } from "./request-log.ts";

/**
 * The standalone server as one fetch handler: the token routes, a health check, and 404 for the
 * rest. `main.ts` only reads the environment and listens; tests drive this directly.
 */

export interface ServerApp {
  fetch(request: Request): Promise<Response>;
  /** The profiles offered, each with its provider and whether that provider runs on its emulator. */
  profiles: Array<{ name: string; provider: string; emulated: boolean }>;
  /** When every provider runs on its emulator: a ready user token for the first `curl`. */
  demoUserToken: string | undefined;
  /** What one user can spend at most, whatever their client reports: for the start-up banner. */
  worstCase: WorstCase;
  /** Where the demo page is served (on emulators alone, with an Anam profile), or undefined. */
  demoPath: string | undefined;
  /** Whether the store answers now (`GET /readyz` asks the same). */
  checkStore(): Promise<StoreCheck>;
  /** Shutdown has begun: ends what would never end on its own (the demo's event streams), so that the requests in flight can finish. */
  stopping(): void;
  /** Lets go of the store's connection, if it has one. */
  close(): Promise<void>;
}

export const TOKEN_PATH = "/api/session-token";
export const USAGE_PATH = "/api/session-token/usage";
export const METRICS_PATH = "/metrics";
export const HEALTH_PATH = "/healthz";
export const READY_PATH = "/readyz";

export interface ServerAppOptions {
  /** The Prometheus text of the current metrics; when given, `GET /metrics` serves it. */
  prometheusText?: () => Promise<string>;
}

export async function createServerApp(config: ServerConfig, baseLogger: Logger = consoleLogger, options: ServerAppOptions = {}): Promise<ServerApp> {
  const logger = withRequestFields(baseLogger);
  const { profiles, providers } = await loadProfiles(config);
  const onlyEmulators = Object.values(providers).every((provider) => provider.emulated);
  const signIn = config.auth.jwtSecrets.length > 0 || config.auth.jwksUrl !== undefined;
  if (!onlyEmulators && !signIn) {
    const keyed = Object.entries(providers).filter(([, provider]) => !provider.emulated).map(([name]) => name);
    throw new ConfigError(`TOLLGATE_JWT_SECRET or TOLLGATE_JWKS_URL is required with a real provider key (${keyed.join(", ")}): without one no user could sign in`);
  }
  // On emulators alone, a secret made for this start signs the demo user's token.
  const demoSecret = signIn ? undefined : `${crypto.randomUUID()}${crypto.randomUUID()}`;
  const auth = demoSecret ? { ...config.auth, jwtSecrets: [demoSecret] } : config.auth;

  // It carries whatever the authenticator checks, TOLLGATE_JWT_ISSUER and _AUDIENCE included.
  const demoUserToken = demoSecret ? await signUserToken(demoSecret, "demo-user", "24h", { claim: config.auth.claim, issuer: config.auth.issuer, audience: config.auth.audience }) : undefined;
  const demo = onlyEmulators ? await demoFor(profiles, providers, demoUserToken) : undefined;

  // With a shared store, the token cache and the rate limits both live there, so every copy of the
  // server reuses the same tokens and counts against the same limits.
  const sharedStore = config.store.kind === "redis" ? redisStore({ url: config.store.url, prefix: config.store.prefix }) : undefined;
  const store = sharedStore && instrumentStore(sharedStore);
  const checkStore = storeReadiness(store, baseLogger);
  const tokenHandler = createTokenHandler({
    profiles,
    authenticate: serverAuthenticator(auth, logger),
    authorize: (user) => user.canMint,
    logger,
    store,
    maxSessionSeconds: config.maxSessionSeconds,
    sessions: config.maxSessions !== undefined ? { maxPerUser: config.maxSessions } : undefined,
    rateLimit: { limits: [{ name: "user", limit: config.rateLimit.limit, windowMs: config.rateLimit.windowMs }] },
    // The routes need Authorization (the user's token) and Content-Type whatever else pages send.
    cors: config.corsOrigins.length > 0 ? { origins: config.corsOrigins, allowHeaders: ["Authorization", "Content-Type", ...config.corsHeaders] } : undefined,
    onEvent: demo?.onEvent,
  });

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === TOKEN_PATH || pathname === USAGE_PATH) return tokenHandler(request);
    if (pathname === HEALTH_PATH || pathname === READY_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD") return problemResponse(new TollgateError("method_not_allowed", { headers: { Allow: "GET, HEAD" } }));
      if (pathname === HEALTH_PATH) return Response.json({ status: "ok" }, { headers: { "Cache-Control": "no-store" } });
      const check = await checkStore();
      if (!check.ready) return problemResponse(new TollgateError("store_unavailable", { detail: "The shared store does not answer", retryAfter: 5 }));
      return Response.json({ status: "ready", store: config.store.kind }, { headers: { "Cache-Control": "no-store" } });
    }
    return problemResponse(new TollgateError("not_found", { detail: `No route for ${pathname}` }));
  }

  // Each request is a server span (or enriches the one the runtime made), except health checks and
  // scrapes of /metrics, so that monitoring does not fill the traces it reads.
  const traced = withServerSpan(route, { routes: [TOKEN_PATH, USAGE_PATH] });
  const prometheusText = options.prometheusText;
  async function serve(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (demo && (pathname === DEMO_PATH || pathname.startsWith(`${DEMO_PATH}/`))) return demo.fetch(request);
    if (prometheusText && pathname === METRICS_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD") return problemResponse(new TollgateError("method_not_allowed", { headers: { Allow: "GET, HEAD" } }));
      return new Response(await prometheusText(), { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" } });
    }
    return pathname === HEALTH_PATH || pathname === READY_PATH ? route(request) : traced(request);
  }

  return {
    fetch: withRequestLog(serve, logger, { routes: [TOKEN_PATH, USAGE_PATH, HEALTH_PATH, READY_PATH, METRICS_PATH] }),
    profiles: Object.entries(profiles).map(([name, spec]) => {
      const provider = typeof spec.provider === "string" ? spec.provider : spec.provider.name;
      return { name, provider, emulated: providers[provider]?.emulated ?? false };
    }),
    worstCase: {
      tokensPerWindow: config.rateLimit.limit,
      windowMs: config.rateLimit.windowMs,
      profiles: profileCosts(profiles, config.maxSessionSeconds),
      maxSessions: config.maxSessions,
    },
    demoUserToken,
    demoPath: demo ? `${DEMO_PATH}/` : undefined,
    checkStore,
    stopping: () => demo?.stopping(),
    close: async () => {
      await Promise.all([sharedStore?.close(), demo?.close()]);
    },
  };
}

/** The demo, when an Anam profile runs on the emulator: its page starts sessions with the real Anam SDK. */
async function demoFor(profiles: Record<string, ProfileSpec>, providers: Awaited<ReturnType<typeof loadProfiles>>["providers"], userToken: string | undefined): Promise<Demo | undefined> {
  const emulator = (providers.anam?.provider as { emulator?: Emulator } | undefined)?.emulator;
  if (!emulator) return undefined;
  const anamProfiles = Object.entries(profiles).filter(([, spec]) => (typeof spec.provider === "string" ? spec.provider : spec.provider.name) === "anam").map(([name]) => name);
  return createDemo({ anam: emulator, profiles: anamProfiles, userToken, tokenPath: TOKEN_PATH });
}
