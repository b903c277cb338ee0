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
  };
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
