import { HEADER_NAME } from "../src/handler/cors.ts";
import { parseRateLimit } from "../src/rate-limit/parse.ts";

/**
 * The standalone server's configuration, read from the environment (DESIGN.md, "The standalone
 * server's contract"). Every variable has a default except the secrets, and a bad value stops the
 * server at start-up with a message naming the variable, never repeating a secret.
 */

export type Env = Record<string, string | undefined>;

/** The sign-in part of the server's configuration, as read from TOLLGATE_JWT_* and TOLLGATE_JWKS_URL. */
export interface ServerAuthConfig {
  /** TOLLGATE_JWT_SECRET, then TOLLGATE_JWT_SECRET_PREVIOUS during a rotation. */
  jwtSecrets: string[];
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** TOLLGATE_JWT_CLAIM; `none` in the environment is null here. */
  claim: string | null;
}

export interface ServerConfig {
  port: number;
  /** HOST: unset means every interface. */
  host: string | undefined;
  /** TOLLGATE_PROFILES: a JSON file of profiles; unset means a demo profile per provider. */
  profilesFile: string | undefined;
  /** TOLLGATE_PERSONAS: the Anam-only short form, a JSON file of persona configs by name. */
  personasFile: string | undefined;
  /** Sign-in for users' bearer JWTs; `jwtSecrets` empty and no JWKS means a random secret per start (emulators only). */
  auth: ServerAuthConfig;
  /** TOLLGATE_CORS_ORIGINS: origins allowed to call from a browser. */
  corsOrigins: string[];
  /** TOLLGATE_CORS_HEADERS: request headers those pages may send besides Authorization and Content-Type. */
  corsHeaders: string[];
  /** TOLLGATE_RATE_LIMIT: tokens per user per window, like `10/1h` (the default). */
  rateLimit: { limit: number; windowMs: number };
  /** TOLLGATE_MAX_SESSIONS: session leases (live or pending sessions) per user at a time; unset means unlimited. */
  maxSessions: number | undefined;
  /** TOLLGATE_MAX_SESSION_SECONDS: the longest session, sent to providers that can enforce it. */
  maxSessionSeconds: number | undefined;
  /**
   * TOLLGATE_STORE: `memory` (the default, one process) or a `redis://` / `rediss://` URL that every
   * copy of the server shares. TOLLGATE_STORE_PREFIX starts each key (default `tollgate`), so several
   * deployments can share one Redis.
   */
  store: { kind: "memory" } | { kind: "redis"; url: string; prefix: string };
  /** The environment itself, for the providers to read their keys and base URLs from. */
  env: Env;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function readConfig(env: Env): ServerConfig {
  const jwtSecrets = [nonEmpty(env.TOLLGATE_JWT_SECRET), nonEmpty(env.TOLLGATE_JWT_SECRET_PREVIOUS)].filter((secret): secret is string => secret !== undefined);
  if (jwtSecrets.length === 1 && nonEmpty(env.TOLLGATE_JWT_SECRET_PREVIOUS) && !nonEmpty(env.TOLLGATE_JWT_SECRET)) {
    throw new ConfigError("TOLLGATE_JWT_SECRET_PREVIOUS needs TOLLGATE_JWT_SECRET: the previous secret is accepted beside the new one");
  }
  for (const [variable, secret] of [["TOLLGATE_JWT_SECRET", env.TOLLGATE_JWT_SECRET], ["TOLLGATE_JWT_SECRET_PREVIOUS", env.TOLLGATE_JWT_SECRET_PREVIOUS]] as const) {
    const value = nonEmpty(secret);
    if (value && new TextEncoder().encode(value).byteLength < 32) throw new ConfigError(`${variable} must be at least 32 bytes long (RFC 7518 §3.2)`);
  }
  const claim = nonEmpty(env.TOLLGATE_JWT_CLAIM) ?? "canAccessPersonas";
  if (nonEmpty(env.TOLLGATE_CORS_HEADERS) && !nonEmpty(env.TOLLGATE_CORS_ORIGINS)) {
    throw new ConfigError("TOLLGATE_CORS_HEADERS needs TOLLGATE_CORS_ORIGINS: the headers are allowed to pages on those origins");
  }
  return {
    port: readPort(env.PORT),
    host: nonEmpty(env.HOST),
    profilesFile: nonEmpty(env.TOLLGATE_PROFILES),
    personasFile: nonEmpty(env.TOLLGATE_PERSONAS),
    auth: {
      jwtSecrets,
      jwksUrl: nonEmpty(env.TOLLGATE_JWKS_URL),
      issuer: nonEmpty(env.TOLLGATE_JWT_ISSUER),
      audience: nonEmpty(env.TOLLGATE_JWT_AUDIENCE),
      claim: claim.toLowerCase() === "none" ? null : claim,
    },
    corsOrigins: readOrigins(env.TOLLGATE_CORS_ORIGINS),
    corsHeaders: readHeaderNames(env.TOLLGATE_CORS_HEADERS),
    rateLimit: readRateLimit(nonEmpty(env.TOLLGATE_RATE_LIMIT) ?? "10/1h"),
    maxSessions: readCount("TOLLGATE_MAX_SESSIONS", env.TOLLGATE_MAX_SESSIONS),
    maxSessionSeconds: readSeconds("TOLLGATE_MAX_SESSION_SECONDS", env.TOLLGATE_MAX_SESSION_SECONDS),
    store: readStore(nonEmpty(env.TOLLGATE_STORE) ?? "memory", nonEmpty(env.TOLLGATE_STORE_PREFIX) ?? "tollgate"),
    env,
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

function readOrigins(value: string | undefined): string[] {
  const origins = (value ?? "").split(",").map((origin) => origin.trim()).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) throw new ConfigError(`TOLLGATE_CORS_ORIGINS: "${origin}" is not an origin such as https://app.example.com`);
  }
  return origins;
}

function readHeaderNames(value: string | undefined): string[] {
  const names = (value ?? "").split(",").map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!HEADER_NAME.test(name)) throw new ConfigError(`TOLLGATE_CORS_HEADERS: "${name}" is not a header name such as traceparent`);
  }
  return names;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** PORT, default 8787. Set but blank is a mistake, not "any free port". */
function readPort(value: string | undefined): number {
  if (value === undefined) return 8787;
  const port = Number(value.trim());
  if (value.trim() === "" || !Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`PORT must be a port number, not "${value}"`);
  return port;
}

function readSeconds(variable: string, value: string | undefined): number | undefined {
  const text = nonEmpty(value);
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86_400) throw new ConfigError(`${variable} must be a whole number of seconds from 1 to 86400, not "${text}"`);
  return seconds;
}

function readCount(variable: string, value: string | undefined): number | undefined {
  const text = nonEmpty(value);
  if (text === undefined) return undefined;
  const count = Number(text);
  if (!Number.isSafeInteger(count) || count < 1) throw new ConfigError(`${variable} must be a whole number, at least 1, not "${text}"`);
  return count;
}
