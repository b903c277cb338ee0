import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";

/** A signed-in user: the id claim of a verified JWT, whether they may mint, and every claim. */
export interface JwtUser {
  id: string;
  canMint: boolean;
  claims: JWTPayload;
}

export interface JwtUserOptions {
  /** The identity provider's JWKS (`https://…/.well-known/jwks.json`), for asymmetric tokens. */
  jwks?: string | URL;
  /** HMAC secrets, at least 32 bytes each; several during a rotation, the new beside the old. */
  secrets?: Array<string | Uint8Array>;
  /** The `iss` every token must carry, exactly as the provider writes it. */
  issuer?: string;
  /** The `aud` a token must carry (any one of them, when several are given). */
  audience?: string | string[];
  /** Default: RS256, ES256 and EdDSA for a JWKS; HS256 for secrets. */
  algorithms?: string[];
  /** The claim that must be `true` for the user to mint; null: every signed-in user may. Default `canAccessPersonas`. */
  claim?: string | null;
  /** Leeway, in seconds, for `exp` and `nbf` against the local clock. Default 5. */
  clockToleranceSeconds?: number;
  /** The claim that names the user. Default `sub`. */
  idClaim?: string;
  /** Told when the JWKS cannot be fetched or read; the request itself is then no user. */
  onError?: (error: Error) => void;
}

const ASYMMETRIC = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]);
const HMAC = new Set(["HS256", "HS384", "HS512"]);
const DEFAULT_JWKS_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const DEFAULT_SECRET_ALGORITHMS = ["HS256"];

// RFC 7518 §3.2: an HS256 key shorter than the hash is guessable.
const MIN_SECRET_BYTES = 32;

// Providers rotate by publishing the new key before signing with it, so a token with an unknown
// `kid` is worth one refetch; the cooldown stops a stream of forged kids from hammering the provider.
const JWKS_COOLDOWN_MS = 30_000;

/** Raised inside the key lookup so that an unreachable JWKS can be told apart from a bad token. */
class JwksUnavailable extends Error {
  constructor(cause: unknown) {
    super("The JWKS could not be fetched or read", { cause });
    this.name = "JwksUnavailable";
  }
}

/**
 * Verifies `Authorization: Bearer <jwt>` against a JWKS, HMAC secrets, or both. Anything that does
 * not verify is null, never an exception; a bad configuration throws here, once, at start-up.
 */
export function jwtUser(options: JwtUserOptions): (request: Request) => Promise<JwtUser | null> {
  if (options === null || typeof options !== "object") throw new TypeError("jwtUser: options must be an object");
  const jwksUrl = options.jwks === undefined ? undefined : readJwksUrl(options.jwks);
  const secrets = readSecrets(options.secrets);
  if (!jwksUrl && secrets.length === 0) throw new TypeError("jwtUser: set `jwks` or `secrets`, or no token could ever verify");

  const { jwksAlgorithms, secretAlgorithms } = readAlgorithms(options.algorithms, jwksUrl !== undefined, secrets.length > 0);
  const claim = readClaim(options.claim);
  const idClaim = readName("idClaim", options.idClaim ?? "sub");
  const clockTolerance = options.clockToleranceSeconds ?? 5;
  if (typeof clockTolerance !== "number" || !Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new TypeError("jwtUser: `clockToleranceSeconds` must be a finite number of seconds, 0 or more");
  }
  const issuer = options.issuer === undefined ? undefined : readName("issuer", options.issuer);
  const audience = readAudience(options.audience);
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== "function") throw new TypeError("jwtUser: `onError` must be a function");

  const checks: JWTVerifyOptions = { issuer, audience, clockTolerance, requiredClaims: ["exp"] };
  const remote = jwksUrl ? createRemoteJWKSet(jwksUrl, { cooldownDuration: JWKS_COOLDOWN_MS }) : undefined;
  const jwksKey: JWTVerifyGetKey | undefined = remote
    ? async (header, token) => {
        try {
          return await remote(header, token);
        } catch (error) {
          // These two are about the token's header, not the key set; the second also carries the
          // candidates jose goes on to try, so it must pass through untouched.
          if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
          throw new JwksUnavailable(error);
        }
      }
    : undefined;

  async function verify(token: string): Promise<JWTPayload | null> {
    const { alg } = decodeProtectedHeader(token);
    // The header picks the path, and each path accepts only its own family of algorithms: an HMAC
    // token never meets a public key, so a token "signed" with the public key's bytes fails.
    if (typeof alg === "string" && secretAlgorithms.includes(alg)) {
      for (const secret of secrets) {
        try {
          return (await jwtVerify(token, secret, { ...checks, algorithms: secretAlgorithms })).payload;
        } catch (error) {
          // Only a signature mismatch means another secret may fit; a bad claim is bad under any.
          if (!(error instanceof errors.JWSSignatureVerificationFailed)) throw error;
        }
      }
      return null;
    }
    if (typeof alg === "string" && jwksKey && jwksAlgorithms.includes(alg)) {
      return (await jwtVerify(token, jwksKey, { ...checks, algorithms: jwksAlgorithms })).payload;
    }
    return null;
  }

  return async (request: Request): Promise<JwtUser | null> => {
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization")?.trim() ?? "");
    if (!match) return null;
    let claims: JWTPayload | null;
    try {
      claims = await verify(match[1]!);
    } catch (error) {
      if (error instanceof JwksUnavailable && onError) {
        try {
          onError(error);
        } catch {
          // A failing hook must not turn a 401 into a 500.
        }
      }
      return null;
    }
    if (!claims) return null;
    const id = claims[idClaim];
    if (typeof id !== "string" || id === "") return null;
    return { id, canMint: claim === null || claims[claim] === true, claims };
  };
}

function readJwksUrl(value: unknown): URL {
  let url: URL;
  try {
    url = new URL(value instanceof URL ? value.href : String(value));
  } catch {
    throw new TypeError("jwtUser: `jwks` must be an http(s) URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError("jwtUser: `jwks` must be an http(s) URL");
  // The URL would end up in logs and error messages; credentials there would leak with it.
  if (url.username !== "" || url.password !== "") throw new TypeError("jwtUser: `jwks` must not carry credentials (user:password@)");
  return url;
}

function readSecrets(value: unknown): Uint8Array[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError("jwtUser: `secrets` must be an array of strings or Uint8Arrays");
  return value.map((secret, index) => {
    let bytes: Uint8Array;
    if (typeof secret === "string") bytes = new TextEncoder().encode(secret);
    // A copy, so that the caller reusing its buffer cannot change the key under us.
    else if (secret instanceof Uint8Array) bytes = secret.slice();
    else throw new TypeError(`jwtUser: \`secrets[${index}]\` must be a string or a Uint8Array`);
    if (bytes.byteLength < MIN_SECRET_BYTES) {
      throw new TypeError(`jwtUser: \`secrets[${index}]\` must be at least ${MIN_SECRET_BYTES} bytes long (RFC 7518 §3.2)`);
    }
    return bytes;
  });
}

function readAlgorithms(value: unknown, hasJwks: boolean, hasSecrets: boolean) {
  if (value === undefined) {
    return { jwksAlgorithms: hasJwks ? DEFAULT_JWKS_ALGORITHMS : [], secretAlgorithms: hasSecrets ? DEFAULT_SECRET_ALGORITHMS : [] };
  }
  if (!Array.isArray(value) || value.length === 0) throw new TypeError("jwtUser: `algorithms` must be a non-empty array");
  for (const alg of value) {
    if (typeof alg !== "string" || (!ASYMMETRIC.has(alg) && !HMAC.has(alg))) {
      throw new TypeError(`jwtUser: \`algorithms\` holds ${JSON.stringify(alg)}; use ${[...ASYMMETRIC, ...HMAC].join(", ")}`);
    }
  }
  const jwksAlgorithms = hasJwks ? value.filter((alg: string) => ASYMMETRIC.has(alg)) : [];
  const secretAlgorithms = hasSecrets ? value.filter((alg: string) => HMAC.has(alg)) : [];
  if (hasJwks && jwksAlgorithms.length === 0) throw new TypeError("jwtUser: `algorithms` has no asymmetric algorithm, so `jwks` could verify nothing");
  if (hasSecrets && secretAlgorithms.length === 0) throw new TypeError("jwtUser: `algorithms` has no HMAC algorithm, so `secrets` could verify nothing");
  return { jwksAlgorithms, secretAlgorithms };
}

function readClaim(value: unknown): string | null {
  if (value === null) return null;
  if (value === undefined) return "canAccessPersonas";
  return readName("claim", value, " or null");
}

function readName(option: string, value: unknown, alternative = ""): string {
  if (typeof value !== "string" || value.trim() === "") throw new TypeError(`jwtUser: \`${option}\` must be a non-empty string${alternative}`);
  return value;
}

function readAudience(value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0 || value.some((entry) => typeof entry !== "string" || entry.trim() === "")) {
      throw new TypeError("jwtUser: `audience` must be a non-empty string or a non-empty array of them");
    }
    return [...value];
  }
  if (typeof value !== "string" || value.trim() === "") throw new TypeError("jwtUser: `audience` must be a non-empty string or a non-empty array of them");
  return value;
}
