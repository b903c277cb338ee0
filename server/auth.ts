import { SignJWT, jwtVerify } from "jose";
import type { User } from "../src/index.ts";

/** A user as the standalone server knows them: the JWT's `sub`, and whether they may mint. */
export interface JwtUser extends User {
  canAccessPersonas: boolean;
}

/** Verifies `Authorization: Bearer <HS256 JWT>`; anything else is no user (a 401). */
export function jwtAuthenticator(secret: Uint8Array) {
  return async (request: Request): Promise<JwtUser | null> => {
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "");
    if (!match) return null;
    try {
      const { payload } = await jwtVerify(match[1]!, secret, { algorithms: ["HS256"] });
      if (typeof payload.sub !== "string" || payload.sub === "") return null;
      return { id: payload.sub, canAccessPersonas: payload.canAccessPersonas === true };
    } catch {
      return null;
    }
  };
}

/** A user token such as an app's login would issue, for the demo printed at start-up. */
export function signUserToken(secret: Uint8Array, userId: string, expiresIn = "24h"): Promise<string> {
  return new SignJWT({ canAccessPersonas: true })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(secret);
}
