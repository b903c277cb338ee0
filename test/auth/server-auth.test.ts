import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { serverAuthenticator, signUserToken } from "../../server/auth.ts";
import { ConfigError } from "../../server/config.ts";
import { closeAll, listen } from "../support/servers.ts";

// The standalone server's sign-in as its environment configures it.

afterAll(() => closeAll());

const CURRENT = "current-secret-0123456789abcdef012345";
const PREVIOUS = "previous-secret-0123456789abcdef01234";

const bearer = (jwt: string) => new Request("http://tollgate.test/api/session-token", { method: "POST", headers: { Authorization: `Bearer ${jwt}` } });
const bytes = (text: string) => new TextEncoder().encode(text);

function warnings() {
  const lines: Array<{ message: string; fields?: Record<string, unknown> }> = [];
  return { lines, warn: (fields: Record<string, unknown>, message: string) => void lines.push({ message, fields }) };
}

describe("serverAuthenticator", () => {
  it("accepts the current and the previous secret", async () => {
    const authenticate = serverAuthenticator({ jwtSecrets: [CURRENT, PREVIOUS], claim: "canAccessPersonas" });
    expect(await authenticate(bearer(await signUserToken(CURRENT, "ada")))).toMatchObject({ id: "ada", canMint: true });
    expect(await authenticate(bearer(await signUserToken(bytes(PREVIOUS), "bob")))).toMatchObject({ id: "bob", canMint: true });
    expect(await authenticate(bearer(await signUserToken("some-other-secret-0123456789abcdef0", "eve")))).toBeNull();
  });

  it("verifies an identity provider's tokens through its JWKS, with iss, aud and the claim", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const idp = await listen("server-auth-jwks", () => Response.json({ keys: [jwk] }));
    const config = { jwtSecrets: [], jwksUrl: `${idp.url}/.well-known/jwks.json`, issuer: "https://tenant.example/", audience: "tollgate", claim: "mint" };
    const sign = (claims: Record<string, unknown>, audience = "tollgate") =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setSubject("user-1")
        .setIssuer("https://tenant.example/")
        .setAudience(audience)
        .setExpirationTime("5m")
        .sign(privateKey);

    const authenticate = serverAuthenticator(config);
    expect(await authenticate(bearer(await sign({ mint: true })))).toMatchObject({ id: "user-1", canMint: true });
    expect(await authenticate(bearer(await sign({ mint: false })))).toMatchObject({ id: "user-1", canMint: false });
    expect(await authenticate(bearer(await sign({ mint: true }, "someone-else")))).toBeNull();
    expect(await serverAuthenticator({ ...config, claim: null })(bearer(await sign({})))).toMatchObject({ canMint: true });
  });

  it("logs a warning, without the token, when the JWKS cannot be reached, and answers no user", async () => {
    const down = await listen("server-auth-jwks-down", () => new Response("down", { status: 502 }));
    const logger = warnings();
    const authenticate = serverAuthenticator({ jwtSecrets: [CURRENT], jwksUrl: `${down.url}/jwks`, claim: "canAccessPersonas" }, logger);
    const { privateKey } = await generateKeyPair("RS256");
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "x" }).setSubject("u").setExpirationTime("5m").sign(privateKey);
    expect(await authenticate(bearer(jwt))).toBeNull();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.message).toMatch(/JWKS/);
    expect(JSON.stringify(logger.lines)).not.toContain(jwt);
    // The secret still verifies while the JWKS is down.
    expect(await authenticate(bearer(await signUserToken(CURRENT, "ada")))).not.toBeNull();
  });

  it.each([
    [{ jwtSecrets: [], claim: "canAccessPersonas" }, /TOLLGATE_JWKS_URL or TOLLGATE_JWT_SECRET/],
    [{ jwtSecrets: ["short"], claim: "canAccessPersonas" }, /^TOLLGATE_JWT_SECRET must be at least 32 bytes/],
    [{ jwtSecrets: [CURRENT, "short"], claim: "canAccessPersonas" }, /^TOLLGATE_JWT_SECRET_PREVIOUS must be at least 32 bytes/],
    [{ jwtSecrets: [], jwksUrl: "ftp://idp.example/jwks", claim: "canAccessPersonas" }, /^TOLLGATE_JWKS_URL must be an http\(s\) URL/],
    [{ jwtSecrets: [], jwksUrl: "https://me:s3cr3tpass@idp.example/jwks", claim: "canAccessPersonas" }, /^TOLLGATE_JWKS_URL must not carry credentials/],
    [{ jwtSecrets: [CURRENT], issuer: "", claim: "canAccessPersonas" }, /^TOLLGATE_JWT_ISSUER must be a non-empty string/],
    [{ jwtSecrets: [CURRENT], audience: "", claim: "canAccessPersonas" }, /^TOLLGATE_JWT_AUDIENCE must be a non-empty string/],
    [{ jwtSecrets: [CURRENT], claim: "" }, /^TOLLGATE_JWT_CLAIM must be a non-empty string/],
  ])("refuses a bad configuration with a ConfigError naming the variable (%#)", (config, message) => {
    let thrown: unknown;
    try {
      serverAuthenticator(config);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain("s3cr3tpass");
  });
});

describe("the demo token and the HS256 authenticator of earlier servers", () => {
  it("signs a demo token that the server's own authenticator accepts, whatever claim, issuer and audience it checks", async () => {
    const config = { jwtSecrets: [CURRENT], issuer: "https://app.example/", audience: "tollgate", claim: "mayMint" };
    const demo = await signUserToken(CURRENT, "demo-user", "1h", { claim: "mayMint", issuer: config.issuer, audience: config.audience });
    expect(await serverAuthenticator(config)(bearer(demo))).toMatchObject({ id: "demo-user", canMint: true });
  });

});
