import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, type CryptoKey } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { jwtUser, type JwtUserOptions } from "../../src/auth/index.ts";
import { closeAll, listen, type Listening } from "../support/servers.ts";

// Identity providers as they are met in production: a JWKS served over real HTTP on loopback,
// rotated while the authenticator runs, sometimes down.

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg: "RS256" | "ES256" | "EdDSA"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : undefined);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const ISSUER = "https://idp.example/";
const AUDIENCE = "https://tollgate.example/api";

let rsa: SigningKey;
let ec: SigningKey;
let ed: SigningKey;
let rsaPublicPem: string;

// What the JWKS endpoint publishes right now, and how it behaves.
let published: JWK[] = [];
let jwksStatus = 200;
let jwksFetches = 0;
let idp: Listening;
let jwksUrl: string;

beforeAll(async () => {
  const rsaPair = await generateKeyPair("RS256", { extractable: true });
  rsa = { kid: "rsa-1", alg: "RS256", privateKey: rsaPair.privateKey, jwk: { ...(await exportJWK(rsaPair.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" } };
  rsaPublicPem = await exportSPKI(rsaPair.publicKey);
  ec = await signingKey("ec-1", "ES256");
  ed = await signingKey("ed-1", "EdDSA");
  idp = await listen("jwks", (request) => {
    if (new URL(request.url).pathname !== "/.well-known/jwks.json") return new Response("not found", { status: 404 });
    jwksFetches++;
    if (jwksStatus !== 200) return new Response("unavailable", { status: jwksStatus });
    return Response.json({ keys: published });
  });
  jwksUrl = `${idp.url}/.well-known/jwks.json`;
});

beforeEach(() => {
  published = [rsa.jwk, ec.jwk, ed.jwk];
  jwksStatus = 200;
  jwksFetches = 0;
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => closeAll());

interface TokenOptions {
  claims?: JWTPayload;
  sub?: string | null;
  iss?: string | null;
  aud?: string | string[] | null;
  /** Seconds from now; null: no `exp` at all. */
  exp?: number | null;
  kid?: string | null;
}

async function token(key: SigningKey | Uint8Array, options: TokenOptions = {}, alg?: string): Promise<string> {
  const jwt = new SignJWT({ canAccessPersonas: true, ...options.claims });
  const header: { alg: string; typ: string; kid?: string } = { alg: alg ?? (key instanceof Uint8Array ? "HS256" : key.alg), typ: "JWT" };
  const kid = options.kid === undefined ? (key instanceof Uint8Array ? null : key.kid) : options.kid;
  if (kid) header.kid = kid;
  jwt.setProtectedHeader(header).setIssuedAt();
  if (options.sub !== null) jwt.setSubject(options.sub ?? "user-42");
  if (options.iss !== null) jwt.setIssuer(options.iss ?? ISSUER);
  if (options.aud !== null) jwt.setAudience(options.aud ?? AUDIENCE);
  if (options.exp !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.exp ?? 600));
  return jwt.sign(key instanceof Uint8Array ? key : key.privateKey);
}

function bearer(jwt: string): Request {
  return new Request("http://tollgate.test/api/session-token", { method: "POST", headers: { Authorization: `Bearer ${jwt}` } });
}

function viaJwks(options: Partial<JwtUserOptions> = {}) {
  return jwtUser({ jwks: jwksUrl, issuer: ISSUER, audience: AUDIENCE, ...options });
}

const bytes = (text: string) => new TextEncoder().encode(text);
const SECRET_OLD = "old-secret-0123456789abcdef0123456789";
const SECRET_NEW = "new-secret-0123456789abcdef0123456789";
const SECRET_OTHER = "another-secret-0123456789abcdef012345";

describe("jwtUser against a JWKS", () => {
  it("accepts RS256, ES256 and EdDSA users, with their claims", async () => {
    const authenticate = viaJwks();
    for (const key of [rsa, ec, ed]) {
      const user = await authenticate(bearer(await token(key, { claims: { email: "ada@example.com" } })));
      expect(user, key.alg).toMatchObject({ id: "user-42", canMint: true, claims: { email: "ada@example.com", iss: ISSUER } });
    }
    // One fetch serves every key it holds.
    expect(jwksFetches).toBe(1);
  });

  it("accepts a token whose aud lists the expected audience among others, and any one of several expected", async () => {
    expect(await viaJwks()(bearer(await token(rsa, { aud: ["https://idp.example/userinfo", AUDIENCE] })))).not.toBeNull();
    const either = viaJwks({ audience: ["https://elsewhere.example", AUDIENCE] });
    expect(await either(bearer(await token(rsa)))).not.toBeNull();
  });

  it("refuses a wrong iss, a wrong aud, an expired token and a token without exp", async () => {
    const authenticate = viaJwks();
    expect(await authenticate(bearer(await token(rsa, { iss: "https://idp.example" })))).toBeNull();
    expect(await authenticate(bearer(await token(rsa, { iss: null })))).toBeNull();
    expect(await authenticate(bearer(await token(rsa, { aud: "https://someone-else.example/api" })))).toBeNull();
    expect(await authenticate(bearer(await token(rsa, { aud: null })))).toBeNull();
    expect(await authenticate(bearer(await token(ec, { exp: -60 })))).toBeNull();
    expect(await authenticate(bearer(await token(ed, { exp: null })))).toBeNull();
  });

  it("allows the configured clock tolerance on exp, and no more", async () => {
    const lateByHalfAMinute = await token(rsa, { exp: -30 });
    expect(await viaJwks()(bearer(lateByHalfAMinute))).toBeNull();
    expect(await viaJwks({ clockToleranceSeconds: 120 })(bearer(lateByHalfAMinute))).not.toBeNull();
  });

  it("refuses a token signed by a key the JWKS does not hold", async () => {
    const stranger = await signingKey("rsa-1", "RS256");
    const authenticate = viaJwks();
    expect(await authenticate(bearer(await token(stranger)))).toBeNull();
    const unknownKid = await signingKey("not-published", "ES256");
    expect(await authenticate(bearer(await token(unknownKid)))).toBeNull();
  });

  it("refuses alg: none", async () => {
    const unsigned = new UnsecuredJWT({ canAccessPersonas: true })
      .setSubject("user-42")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("10m")
      .encode();
    expect(await viaJwks()(bearer(unsigned))).toBeNull();
    expect(await viaJwks({ secrets: [SECRET_NEW] })(bearer(unsigned))).toBeNull();
    expect(jwksFetches).toBe(0);
  });

  it("refuses an HS256 token whose HMAC key is the RSA public key (algorithm confusion)", async () => {
    const confused = [
      await token(bytes(rsaPublicPem), { kid: rsa.kid }),
      await token(bytes(JSON.stringify(rsa.jwk)), { kid: rsa.kid }),
    ];
    for (const authenticate of [viaJwks(), viaJwks({ secrets: [SECRET_NEW] }), viaJwks({ algorithms: ["RS256", "HS256"] })]) {
      for (const jwt of confused) expect(await authenticate(bearer(jwt))).toBeNull();
    }
    // The token never got as far as a key lookup.
    expect(jwksFetches).toBe(0);
  });

  it("verifies only the algorithms asked for", async () => {
    const rsaOnly = viaJwks({ algorithms: ["RS256"] });
    expect(await rsaOnly(bearer(await token(rsa)))).not.toBeNull();
    expect(await rsaOnly(bearer(await token(ec)))).toBeNull();
    expect(await rsaOnly(bearer(await token(ed)))).toBeNull();
  });

  it("takes up a key rotation at the JWKS without a new authenticator, refetching at most every 30 s", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const authenticate = viaJwks();
    expect(await authenticate(bearer(await token(rsa)))).not.toBeNull();
    expect(jwksFetches).toBe(1);

    // The provider publishes a new key beside the old one and starts signing with it.
    const next = await signingKey("rsa-2", "RS256");
    published = [rsa.jwk, next.jwk];
    vi.setSystemTime(new Date("2030-01-01T00:00:31Z"));
    expect(await authenticate(bearer(await token(next)))).toMatchObject({ id: "user-42" });
    expect(jwksFetches).toBe(2);
    expect(await authenticate(bearer(await token(rsa)))).not.toBeNull();

    // Unknown kids in quick succession cost one fetch per cooldown, not one each.
    const forged = await signingKey("rsa-forged", "RS256");
    vi.setSystemTime(new Date("2030-01-01T00:00:40Z"));
    for (let i = 0; i < 5; i++) expect(await authenticate(bearer(await token(forged, { kid: `forged-${i}` })))).toBeNull();
    expect(jwksFetches).toBe(2);
    vi.setSystemTime(new Date("2030-01-01T00:01:02Z"));
    expect(await authenticate(bearer(await token(forged)))).toBeNull();
    expect(jwksFetches).toBe(3);
  });

  it("answers null and warns once through onError when the JWKS cannot be fetched", async () => {
    jwksStatus = 503;
    const onError = vi.fn();
    const authenticate = viaJwks({ onError });
    expect(await authenticate(bearer(await token(rsa)))).toBeNull();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toBeInstanceOf(Error);

    // The provider recovers: the next request fetches again and succeeds.
    jwksStatus = 200;
    expect(await authenticate(bearer(await token(rsa)))).not.toBeNull();
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it("answers null, never throws, when the JWKS host refuses connections, serves junk, or the hook throws", async () => {
    const gone = await listen("jwks-gone", () => new Response("{}"));
    const goneUrl = `${gone.url}/.well-known/jwks.json`;
    await gone.close();
    const onError = vi.fn();
    const refused = jwtUser({ jwks: goneUrl, onError });
    expect(await refused(bearer(await token(rsa)))).toBeNull();
    expect(onError).toHaveBeenCalledTimes(1);

    const junk = await listen("jwks-junk", () => Response.json({ keys: "none" }));
    const junkHook = vi.fn();
    expect(await jwtUser({ jwks: `${junk.url}/jwks`, onError: junkHook })(bearer(await token(rsa)))).toBeNull();
    expect(junkHook).toHaveBeenCalledTimes(1);
    await junk.close();

    const throwing = jwtUser({ jwks: goneUrl, onError: () => { throw new Error("logger down"); } });
    await expect(throwing(bearer(await token(rsa)))).resolves.toBeNull();
    await expect(jwtUser({ jwks: goneUrl })(bearer(await token(rsa)))).resolves.toBeNull();
  });

  it("does not warn about tokens that are merely bad", async () => {
    const onError = vi.fn();
    const authenticate = viaJwks({ onError });
    expect(await authenticate(bearer(await token(await signingKey("nobody", "ES256"))))).toBeNull();
    expect(await authenticate(bearer(await token(rsa, { exp: -600 })))).toBeNull();
    expect(await authenticate(bearer("not.a.jwt"))).toBeNull();
    expect(onError).not.toHaveBeenCalled();
  });
});

describe("jwtUser with HS256 secrets", () => {
  it("accepts tokens under the old and the new secret during a rotation, and refuses a third", async () => {
    const authenticate = jwtUser({ secrets: [SECRET_NEW, SECRET_OLD] });
    expect(await authenticate(bearer(await token(bytes(SECRET_NEW))))).toMatchObject({ id: "user-42", canMint: true });
    expect(await authenticate(bearer(await token(bytes(SECRET_OLD))))).toMatchObject({ id: "user-42", canMint: true });
    expect(await authenticate(bearer(await token(bytes(SECRET_OTHER))))).toBeNull();
  });

  it("takes secrets as bytes as well as text", async () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const authenticate = jwtUser({ secrets: [raw] });
    const jwt = await token(raw);
    raw.fill(0);
    expect(await authenticate(bearer(jwt))).not.toBeNull();
  });

  it("refuses an expired token under any secret, and a token without exp", async () => {
    const authenticate = jwtUser({ secrets: [SECRET_NEW, SECRET_OLD] });
    expect(await authenticate(bearer(await token(bytes(SECRET_OLD), { exp: -60 })))).toBeNull();
    expect(await authenticate(bearer(await token(bytes(SECRET_NEW), { exp: null })))).toBeNull();
  });

  it("checks iss and aud on HS256 tokens too", async () => {
    const authenticate = jwtUser({ secrets: [SECRET_NEW], issuer: ISSUER, audience: AUDIENCE });
    expect(await authenticate(bearer(await token(bytes(SECRET_NEW))))).not.toBeNull();
    expect(await authenticate(bearer(await token(bytes(SECRET_NEW), { iss: "https://evil.example/" })))).toBeNull();
    expect(await authenticate(bearer(await token(bytes(SECRET_NEW), { aud: "authenticated" })))).toBeNull();
  });

  it("refuses asymmetric tokens when only secrets are configured", async () => {
    const authenticate = jwtUser({ secrets: [SECRET_NEW] });
    expect(await authenticate(bearer(await token(rsa)))).toBeNull();
  });

  it("accepts either a secret's token or a JWKS token when both are configured", async () => {
    const authenticate = viaJwks({ secrets: [SECRET_NEW] });
    expect(await authenticate(bearer(await token(bytes(SECRET_NEW))))).not.toBeNull();
    expect(await authenticate(bearer(await token(ec)))).not.toBeNull();
  });
});

describe("who may mint, and who the user is", () => {
  const authenticateWith = (options: Partial<JwtUserOptions>) => jwtUser({ secrets: [SECRET_NEW], ...options });
  const withClaims = async (claims: JWTPayload, options: TokenOptions = {}) => bearer(await token(bytes(SECRET_NEW), { ...options, claims }));

  it("lets a user mint only when the claim is exactly true", async () => {
    const authenticate = authenticateWith({});
    expect((await authenticate(await withClaims({ canAccessPersonas: true })))?.canMint).toBe(true);
    expect((await authenticate(await withClaims({ canAccessPersonas: false })))?.canMint).toBe(false);
    expect((await authenticate(await withClaims({ canAccessPersonas: "true" })))?.canMint).toBe(false);
    expect((await authenticate(await withClaims({ canAccessPersonas: undefined })))?.canMint).toBe(false);
  });

  it("reads a claim of the caller's choosing", async () => {
    const authenticate = authenticateWith({ claim: "https://tollgate.example/mint" });
    expect((await authenticate(await withClaims({ "https://tollgate.example/mint": true, canAccessPersonas: false })))?.canMint).toBe(true);
    expect((await authenticate(await withClaims({ canAccessPersonas: true })))?.canMint).toBe(false);
  });

  it("lets every signed-in user mint with claim: null", async () => {
    const authenticate = authenticateWith({ claim: null });
    expect((await authenticate(await withClaims({ canAccessPersonas: false })))?.canMint).toBe(true);
  });

  it("names the user by sub, or by the idClaim asked for, and refuses a token without one", async () => {
    expect((await authenticateWith({})(await withClaims({}, { sub: "auth0|abc" })))?.id).toBe("auth0|abc");
    expect(await authenticateWith({})(await withClaims({}, { sub: null }))).toBeNull();
    expect(await authenticateWith({})(await withClaims({}, { sub: "" }))).toBeNull();
    expect((await authenticateWith({ idClaim: "uid" })(await withClaims({ uid: "u-7" })))?.id).toBe("u-7");
    expect(await authenticateWith({ idClaim: "uid" })(await withClaims({ uid: 7 }))).toBeNull();
  });

  it("is no user without a well-formed bearer header", async () => {
    const authenticate = authenticateWith({});
    const jwt = await token(bytes(SECRET_NEW));
    const asked = (headers: Record<string, string>) => authenticate(new Request("http://tollgate.test/", { headers }));
    expect(await asked({})).toBeNull();
    expect(await asked({ Authorization: `Basic ${btoa("a:b")}` })).toBeNull();
    expect(await asked({ Authorization: "Bearer" })).toBeNull();
    expect(await asked({ Authorization: `Bearer ${jwt} extra` })).toBeNull();
    expect(await asked({ Authorization: "Bearer %%%.%%%.%%%" })).toBeNull();
    expect(await asked({ Authorization: `bearer ${jwt}` })).not.toBeNull();
  });
});

describe("jwtUser's configuration", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["no options", undefined, /options must be an object/],
    ["neither jwks nor secrets", {}, /set `jwks` or `secrets`/],
    ["an empty secrets list alone", { secrets: [] }, /set `jwks` or `secrets`/],
    ["a short secret", { secrets: ["too-short"] }, /`secrets\[0\]` must be at least 32 bytes/],
    ["a short second secret", { secrets: [SECRET_NEW, new Uint8Array(16)] }, /`secrets\[1\]` must be at least 32 bytes/],
    ["a secret that is neither text nor bytes", { secrets: [42] }, /`secrets\[0\]` must be a string or a Uint8Array/],
    ["secrets that are not a list", { secrets: SECRET_NEW }, /`secrets` must be an array/],
    ["a jwks URL that is not a URL", { jwks: "idp.example/jwks.json" }, /`jwks` must be an http\(s\) URL/],
    ["a non-http(s) jwks URL", { jwks: "file:///etc/jwks.json" }, /`jwks` must be an http\(s\) URL/],
    ["a jwks URL with credentials", { jwks: "https://admin:hunter2hunter2@idp.example/jwks.json" }, /`jwks` must not carry credentials/],
    ["a jwks URL with only a user", { jwks: new URL("https://admin@idp.example/jwks.json") }, /`jwks` must not carry credentials/],
    ["an empty claim", { secrets: [SECRET_NEW], claim: "" }, /`claim` must be a non-empty string or null/],
    ["a claim that is not a name", { secrets: [SECRET_NEW], claim: true }, /`claim` must be a non-empty string or null/],
    ["an empty issuer", { secrets: [SECRET_NEW], issuer: " " }, /`issuer` must be a non-empty string/],
    ["an empty audience", { secrets: [SECRET_NEW], audience: "" }, /`audience` must be a non-empty string/],
    ["an empty audience list", { secrets: [SECRET_NEW], audience: [] }, /`audience` must be a non-empty string/],
    ["an empty idClaim", { secrets: [SECRET_NEW], idClaim: "" }, /`idClaim` must be a non-empty string/],
    ["a negative clock tolerance", { secrets: [SECRET_NEW], clockToleranceSeconds: -1 }, /`clockToleranceSeconds` must be/],
    ["a clock tolerance that is not a number", { secrets: [SECRET_NEW], clockToleranceSeconds: "5s" }, /`clockToleranceSeconds` must be/],
    ["alg none", { secrets: [SECRET_NEW], algorithms: ["HS256", "none"] }, /`algorithms` holds "none"/],
    ["an empty algorithm list", { secrets: [SECRET_NEW], algorithms: [] }, /`algorithms` must be a non-empty array/],
    ["a JWKS with only HMAC algorithms", { jwks: "https://idp.example/jwks.json", algorithms: ["HS256"] }, /`algorithms` has no asymmetric algorithm/],
    ["secrets with only asymmetric algorithms", { secrets: [SECRET_NEW], algorithms: ["RS256"] }, /`algorithms` has no HMAC algorithm/],
    ["an onError that is not a function", { secrets: [SECRET_NEW], onError: "console" }, /`onError` must be a function/],
  ];

  it.each(cases)("throws a TypeError naming the option for %s", (_name, options, message) => {
    let thrown: unknown;
    try {
      jwtUser(options as JwtUserOptions);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain("hunter2");
  });

  it("fetches nothing until the first token arrives", () => {
    viaJwks();
    expect(jwksFetches).toBe(0);
  });
});
