import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_API_KEY, closeAll, listen, startUpstream, type Upstream } from "../support/servers.ts";
import { askForToken, cleanEnv, killLeftovers, startTree, type ServerTree } from "../deploy/processes.ts";

// The standalone server as an operator behind an identity provider runs it: users' RS256 and ES256
// tokens checked against a JWKS served on loopback, with `iss` and `aud`, and TOLLGATE_JWT_CLAIM=none.

const ISSUER = "https://tenant.idp.example/";
const AUDIENCE = "tollgate-api";

let upstream: Upstream;
let server: ServerTree;
const keys: Record<"RS256" | "ES256", { privateKey: CryptoKey; kid: string }> = {} as never;

beforeAll(async () => {
  upstream = await startUpstream();
  const jwks: object[] = [];
  for (const alg of ["RS256", "ES256"] as const) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    keys[alg] = { privateKey, kid: `key-${alg}` };
    jwks.push({ ...(await exportJWK(publicKey)), kid: `key-${alg}`, alg, use: "sig" });
  }
  const idp = await listen("standalone-jwks", () => Response.json({ keys: jwks }));
  server = await startTree(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: process.cwd(),
    env: cleanEnv({
      ANAM_API_KEY: TEST_API_KEY,
      ANAM_BASE_URL: upstream.url,
      TOLLGATE_JWKS_URL: `${idp.url}/.well-known/jwks.json`,
      TOLLGATE_JWT_ISSUER: ISSUER,
      TOLLGATE_JWT_AUDIENCE: AUDIENCE,
      TOLLGATE_JWT_CLAIM: "none",
    }),
  });
}, 60_000);

afterAll(async () => {
  killLeftovers();
  await closeAll();
});

function userToken(alg: "RS256" | "ES256", claims: { iss?: string; aud?: string; exp?: string } = {}) {
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: keys[alg].kid })
    .setSubject(`idp-user-${alg}`)
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? "10m")
    .sign(keys[alg].privateKey);
}

describe("the standalone server behind an identity provider's JWKS", () => {
  it("says in its banner how users sign in, and prints no demo token", () => {
    const text = server.output.join("\n");
    expect(text).toMatch(/sign-in: JWKS at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json; iss https:\/\/tenant\.idp\.example\/; aud tollgate-api; every signed-in user may mint/);
    expect(server.demoToken).toBeUndefined();
  });

  it("mints for RS256 and ES256 users, with no claim needed under TOLLGATE_JWT_CLAIM=none", async () => {
    for (const alg of ["RS256", "ES256"] as const) {
      const response = await askForToken(server.origin, await userToken(alg), "anam");
      expect(response.status, alg).toBe(200);
      expect(((await response.json()) as { provider: string }).provider).toBe("anam");
    }
  });

  it("answers 401 for another audience, another issuer, and an expired token", async () => {
    for (const claims of [{ aud: "someone-else" }, { iss: "https://evil.example/" }, { exp: "-1m" }]) {
      const response = await askForToken(server.origin, await userToken("RS256", claims), "anam");
      expect(response.status, JSON.stringify(claims)).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });
});
