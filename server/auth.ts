import { SignJWT } from "jose";
import { jwtUser, type JwtUser } from "../src/auth/index.ts";
import type { Logger } from "../src/index.ts";
import { causeChain } from "../src/handler/error-answer.ts";
import { ConfigError, type ServerAuthConfig } from "./config.ts";

export type { JwtUser, ServerAuthConfig };

// jwtUser names its options; an operator only knows the variables they set.
const VARIABLES: Record<string, string> = {
  jwks: "TOLLGATE_JWKS_URL",
  secrets: "TOLLGATE_JWT_SECRET",
  "secrets[0]": "TOLLGATE_JWT_SECRET",
  "secrets[1]": "TOLLGATE_JWT_SECRET_PREVIOUS",
  issuer: "TOLLGATE_JWT_ISSUER",
  audience: "TOLLGATE_JWT_AUDIENCE",
  claim: "TOLLGATE_JWT_CLAIM",
};

/**
 * The standalone server's authenticator: users' bearer JWTs checked against the HS256 secrets, the
 * JWKS, or both (either verifies). A JWKS that cannot be reached is logged and answered with 401.
 */
export function serverAuthenticator(config: ServerAuthConfig, logger?: Pick<Logger, "warn">): (request: Request) => Promise<JwtUser | null> {
  try {
    return jwtUser({
      secrets: config.jwtSecrets,
      jwks: config.jwksUrl,
      issuer: config.issuer,
      audience: config.audience,
      claim: config.claim,
      onError: (error) =>
        logger?.warn(
          { url: config.jwksUrl, "error.type": error.cause instanceof Error ? error.cause.name : error.name, cause: causeChain(error) },
          "The JWKS could not be fetched; users signed in with it get 401 until it answers",
        ),
    });
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    const message = error.message.replace(/^jwtUser: /, "").replace(/`([^`]+)`/g, (quoted, option: string) => VARIABLES[option] ?? quoted);
    throw new ConfigError(message);
  }
}

/** What the demo token must carry for this server's own authenticator to accept it. */
export interface DemoTokenOptions {
  /** Set to `true` in the token; null: none. Default `canAccessPersonas`. */
  claim?: string | null;
  issuer?: string;
  audience?: string;
}

/** A user token such as an app's login would issue, for the demo printed at start-up. */
export function signUserToken(secret: Uint8Array | string, userId: string, expiresIn = "24h", options: DemoTokenOptions = {}): Promise<string> {
  const claim = options.claim === undefined ? "canAccessPersonas" : options.claim;
  const jwt = new SignJWT(claim === null ? {} : { [claim]: true })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(typeof secret === "string" ? new TextEncoder().encode(secret) : secret);
}
