import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TEST_API_KEY, closeAll, listen, startUpstream, type Upstream } from "../support/servers.ts";
import { askForToken, cleanEnv, killLeftovers, startTree, type ServerTree } from "../deploy/processes.ts";

// The standalone server as an operator behind an identity provider runs it: users' RS256, ES256
// and EdDSA tokens checked against a JWKS served on loopback, with `iss` and `aud`, and
// TOLLGATE_JWT_CLAIM=none. An HS256 secret is set beside the JWKS, so that the HMAC path is live
// when a token "signed" with a public key tries it.

const ISSUER = "https://tenant.idp.example/";
const AUDIENCE = "tollgate-api";
const SECRET = "the-hs256-secret-beside-the-jwks-0123456789";

type Alg = "RS256" | "ES256" | "EdDSA";
interface SigningKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey | Uint8Array;
  publicKey?: CryptoKey;
  jwk?: JWK;
}

let upstream: Upstream;
let server: ServerTree;
const keys = {} as Record<Alg, SigningKey>;
/** What the JWKS endpoint publishes now, and how many times the server fetched it. */
let published: JWK[] = [];
let jwksFetches = 0;

async function signingKey(alg: Alg, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  return { alg, kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

beforeAll(async () => {
  upstream = await startUpstream();
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) keys[alg] = await signingKey(alg, `key-${alg}`);
  published = Object.values(keys).map((key) => key.jwk!);
  const idp = await listen("standalone-jwks", () => {
    jwksFetches++;
    return Response.json({ keys: published });
  });
  server = await startTree(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: process.cwd(),
    env: cleanEnv({
      ANAM_API_KEY: TEST_API_KEY,
      ANAM_BASE_URL: upstream.url,
      TOLLGATE_JWKS_URL: `${idp.url}/.well-known/jwks.json`,
      TOLLGATE_JWT_SECRET: SECRET,
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

function userToken(key: SigningKey, claims: { iss?: string; aud?: string; exp?: string; kid?: string; alg?: string } = {}) {
  return new SignJWT({})
    .setProtectedHeader({ alg: claims.alg ?? key.alg, kid: claims.kid ?? key.kid })
    .setSubject(`idp-user-${key.alg}`)
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? "10m")
    .sign(key.privateKey);
}

async function expectRefused(jwt: string, what: string) {
  const response = await askForToken(server.origin, jwt, "anam");
  expect(response.status, what).toBe(401);
  expect(response.headers.get("www-authenticate"), what).toMatch(/^Bearer/);
}

describe("the standalone server behind an identity provider's JWKS", () => {
  it("says in its banner how users sign in, and prints no demo token", () => {
    const text = server.output.join("\n");
    expect(text).toMatch(/sign-in: JWKS at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json or HS256 secret; iss https:\/\/tenant\.idp\.example\/; aud tollgate-api; every signed-in user may mint/);
    expect(server.demoToken).toBeUndefined();
  });

  it("mints for RS256, ES256 and EdDSA users, and for the HS256 secret's, with no claim needed under TOLLGATE_JWT_CLAIM=none", async () => {
    const hmac: SigningKey = { alg: "HS256", kid: "app", privateKey: new TextEncoder().encode(SECRET) };
    for (const key of [keys.RS256, keys.ES256, keys.EdDSA, hmac]) {
      const response = await askForToken(server.origin, await userToken(key), "anam");
      expect(response.status, key.alg).toBe(200);
      expect(((await response.json()) as { provider: string }).provider).toBe("anam");
    }
  });

  it("answers 401 for another audience, another issuer, and an expired token", async () => {
    for (const claims of [{ aud: "someone-else" }, { iss: "https://evil.example/" }, { exp: "-1m" }]) {
      await expectRefused(await userToken(keys.RS256, claims), JSON.stringify(claims));
    }
  });

  it("answers 401 for a key the JWKS does not hold, under a kid of its own or a published one", async () => {
    const stranger = await signingKey("ES256", "stranger");
    await expectRefused(await userToken(stranger), "an unknown kid");
    await expectRefused(await userToken(stranger, { kid: keys.ES256.kid }), "a published kid, another key");
  });

  it("answers 401 for HS256 keyed with the public key (algorithm confusion)", async () => {
    const rsa = keys.RS256;
    const publicKeyTexts = [await exportSPKI(rsa.publicKey!), JSON.stringify(rsa.jwk)];
    for (const text of publicKeyTexts) {
      const forged: SigningKey = { alg: "HS256", kid: rsa.kid, privateKey: new TextEncoder().encode(text) };
      await expectRefused(await userToken(forged), `HS256 over ${text.slice(0, 20)}`);
    }
  });

  it("takes up a key rotation at the identity provider without a restart", async () => {
    const fetchesBefore = jwksFetches;
    const next = await signingKey("EdDSA", "key-EdDSA-2");
    // The provider publishes the new key beside the old ones and starts signing with it. The
    // server refetches for an unknown kid at most every 30 s, so the first tries may be refused.
    published = [...published, next.jwk!];
    const jwt = await userToken(next);
    await vi.waitFor(async () => expect((await askForToken(server.origin, jwt, "anam")).status).toBe(200), { timeout: 45_000, interval: 1_000 });
    expect(jwksFetches).toBeGreaterThan(fetchesBefore);
    expect(server.child.exitCode).toBeNull();
    expect((await askForToken(server.origin, await userToken(keys.RS256), "anam")).status).toBe(200);
  }, 60_000);
});
