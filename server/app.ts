import { TollgateError, anam, consoleLogger, createTokenHandler, problemResponse, type Logger } from "../src/index.ts";
import { createAnamEmulator } from "../src/emulator/index.ts";
import { redisStore } from "../adapters/redis.ts";
import { jwtAuthenticator, signUserToken } from "./auth.ts";
import type { ServerConfig } from "./config.ts";
import { loadPersonas } from "./personas.ts";

/**
 * The standalone server as one fetch handler: the token routes, a health check, and 404 for the
 * rest. `main.ts` only reads the environment and listens; tests drive this directly.
 */

export interface ServerApp {
  fetch(request: Request): Promise<Response>;
  /** `emulator` when no API key was given and tokens come from the built-in emulator. */
  upstream: "anam" | "emulator";
  /** In emulator mode, a ready user token for the first `curl`. */
  demoUserToken: string | undefined;
  personaTypes: string[];
  /** Lets go of the store's connection, if it has one. */
  close(): Promise<void>;
}

export const TOKEN_PATH = "/api/session-token";
export const USAGE_PATH = "/api/session-token/usage";

export async function createServerApp(config: ServerConfig, logger: Logger = consoleLogger): Promise<ServerApp> {
  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : crypto.getRandomValues(new Uint8Array(32));
  const personas = await loadPersonas(config.personasFile);

  let provider;
  if (config.anamApiKey) {
    provider = anam({ apiKey: config.anamApiKey, baseUrl: config.anamBaseUrl });
  } else {
    // The emulator runs in this process and is reached without a socket; its key never leaves it.
    const apiKey = `emulator-${crypto.randomUUID()}`;
    const emulator = createAnamEmulator({ apiKey });
    provider = anam({ apiKey, baseUrl: "http://anam-emulator.invalid", fetch: (input, init) => emulator.fetch(new Request(input, init)) });
  }

  // With a shared store, the token cache and the rate limits both live there, so every copy of the
  // server reuses the same tokens and counts against the same limits.
  const store = config.store.kind === "redis" ? redisStore({ url: config.store.url, prefix: config.store.prefix }) : undefined;
  const tokenHandler = createTokenHandler({
    provider,
    authenticate: jwtAuthenticator(secret),
    authorize: (user) => user.canAccessPersonas,
    personas,
    logger,
    store,
    rateLimit: { limits: [{ name: "user", limit: config.rateLimit.limit, windowMs: config.rateLimit.windowMs }] },
  });

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === TOKEN_PATH || pathname === USAGE_PATH) return tokenHandler(request);
    if (pathname === "/healthz") {
      if (request.method !== "GET" && request.method !== "HEAD") return problemResponse(new TollgateError("method_not_allowed", { headers: { Allow: "GET, HEAD" } }));
      return Response.json({ status: "ok" }, { headers: { "Cache-Control": "no-store" } });
    }
    return problemResponse(new TollgateError("not_found", { detail: `No route for ${pathname}` }));
  }

  return {
    fetch: route,
    upstream: config.anamApiKey ? "anam" : "emulator",
    demoUserToken: config.anamApiKey ? undefined : await signUserToken(secret, "demo-user"),
    personaTypes: Object.keys(personas),
    close: async () => {
      await store?.close();
    },
  };
}
