import { parseRateLimit } from "../src/rate-limit/parse.ts";

/**
 * The standalone server's configuration, read from the environment. Every variable has a default
 * except the secrets, and a bad value stops the server at start-up with a message naming it.
 */

export interface ServerConfig {
  /** Unset: the built-in Anam emulator stands in for the real API. */
  anamApiKey: string | undefined;
  anamBaseUrl: string;
  port: number;
  /** HS256 secret for users' bearer JWTs; unset in emulator mode means a random one per start. */
  jwtSecret: string | undefined;
  /** A JSON file mapping each personaType to a persona config; unset means the embedded demo personas. */
  personasFile: string | undefined;
  /** TOLLGATE_RATE_LIMIT: tokens per user per window, like `10/1h` (the default). */
  rateLimit: { limit: number; windowMs: number };
  /**
   * TOLLGATE_STORE: `memory` (the default, one process) or a `redis://` / `rediss://` URL that every
   * copy of the server shares for its token cache and rate limits. TOLLGATE_STORE_PREFIX starts
   * each key (default `tollgate`), so several deployments can share one Redis.
   */
  store: { kind: "memory" } | { kind: "redis"; url: string; prefix: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function readConfig(env: Record<string, string | undefined>): ServerConfig {
  const anamApiKey = nonEmpty(env.ANAM_API_KEY);
  const jwtSecret = nonEmpty(env.TOLLGATE_JWT_SECRET);
  if (anamApiKey && !jwtSecret) {
    throw new ConfigError("TOLLGATE_JWT_SECRET is required with ANAM_API_KEY: without it no user could sign in");
  }
  if (jwtSecret && new TextEncoder().encode(jwtSecret).byteLength < 32) {
    throw new ConfigError("TOLLGATE_JWT_SECRET must be at least 32 bytes long (RFC 7518 §3.2)");
  }
  return {
    anamApiKey,
    anamBaseUrl: readUrl("ANAM_BASE_URL", env.ANAM_BASE_URL ?? "https://api.anam.ai"),
    port: readPort(env.PORT ?? "8787"),
    jwtSecret,
    personasFile: nonEmpty(env.TOLLGATE_PERSONAS),
    rateLimit: readRateLimit(env.TOLLGATE_RATE_LIMIT ?? "10/1h"),
    store: readStore(nonEmpty(env.TOLLGATE_STORE) ?? "memory", nonEmpty(env.TOLLGATE_STORE_PREFIX) ?? "tollgate"),
  };
}

function readRateLimit(value: string): ServerConfig["rateLimit"] {
  try {
    return parseRateLimit(value);
  } catch {
    throw new ConfigError(`TOLLGATE_RATE_LIMIT must be <limit>/<window>, like 10/1h or 100/30m, not "${value}"`);
  }
}

function readStore(value: string, prefix: string): ServerConfig["store"] {
  if (value === "memory") return { kind: "memory" };
  // The URL may hold a password, so it is never repeated in a message.
  if (!/^rediss?:\/\/[^\s]+$/.test(value)) throw new ConfigError("TOLLGATE_STORE must be memory or a redis:// URL");
  if (!/^[\w.:-]{1,64}$/.test(prefix)) throw new ConfigError("TOLLGATE_STORE_PREFIX must be 1-64 letters, digits, '_', '-', '.' or ':'");
  return { kind: "redis", url: value, prefix };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function readPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`PORT must be a port number, not "${value}"`);
  return port;
}

function readUrl(name: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
    return url.href;
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL`);
  }
}
