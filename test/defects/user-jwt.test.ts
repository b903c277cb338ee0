/** The standalone server requires `exp` on users' JWTs, with a small tolerance for clock skew. */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { personasFile, randomSecret, standaloneServer, userJwt, type StandaloneServer } from "./support.ts";

const secret = randomSecret();
let server: StandaloneServer;
beforeAll(async () => {
  server = await standaloneServer("jwt-server", { TOLLGATE_JWT_SECRET: secret, TOLLGATE_PERSONAS: personasFile() });
});
afterAll(() => server?.stop());

function mint(token: string) {
  return fetch(`${server.origin}/api/session-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ personaType: "support" }),
  });
}

describe("a user's JWT", () => {
  it("without exp is refused with 401, though its signature and claims are good", async () => {
    const response = await mint(await userJwt(secret, "no-expiry", { expiresIn: null }));
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
  });

  it("with exp is accepted, and one expired a second ago still is (clock tolerance), but not one expired a minute ago", async () => {
    expect((await mint(await userJwt(secret, "with-expiry"))).status).toBe(200);
    const expiredBy = (seconds: number) =>
      new SignJWT({ canAccessPersonas: true })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(`skewed-${seconds}`)
        .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
        .setExpirationTime(Math.floor(Date.now() / 1000) - seconds)
        .sign(new TextEncoder().encode(secret));
    expect((await mint(await expiredBy(1))).status).toBe(200);
    expect((await mint(await expiredBy(60))).status).toBe(401);
  });
});
