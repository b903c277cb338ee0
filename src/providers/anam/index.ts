import { claimedExpiry } from "../token-claims.ts";
import { InvalidUpstreamResponse, UpstreamError, type FailureClass, type MintRequest, type MintedToken, type Provider } from "../provider.ts";
import { AttemptTimeout, resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions } from "../retry.ts";
import { parsePersonaConfig, type PersonaConfig, type SchemaOptions, type SessionOptions } from "../schema.ts";

export interface AnamOptions {
  /** Your Anam API key. It is sent only to `baseUrl`, and redacted from anything tollgate logs. */
  apiKey: string;
  /** Default `https://api.anam.ai`. */
  baseUrl?: string | URL;
  /** Sent with every token, for Anam's own session listings. */
  clientLabel?: string;
  /** Sent with every token, e.g. `{ sessionReplay: { enableSessionReplay: false } }`. */
  sessionOptions?: SessionOptions;
  /** Retry policy for the upstream call. See RetryOptions for the defaults. */
  retry?: RetryOptions;
  /** Let persona config keys this version does not know pass through to Anam. Default false. */
  passthroughUnknownKeys?: SchemaOptions["passthroughUnknownKeys"];
  /**
   * The fetch to call Anam with. Default the global `fetch`. Typed by its call alone, since each
   * runtime's `typeof fetch` adds its own members (Bun's `preconnect`) that a wrapper lacks.
   */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
}

/** A token lives one hour unless its `exp` claim says otherwise. */
const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export interface AnamProvider extends Provider<PersonaConfig> {
  readonly retry: ResolvedRetryOptions;
}

/** The Anam provider: `POST {baseUrl}/v1/auth/session-token` with the API key as a bearer token. */
export function anam(options: AnamOptions): AnamProvider {
  if (!options.apiKey) throw new TypeError("anam(): apiKey is required");
  const apiKey = options.apiKey;
  const endpoint = new URL("/v1/auth/session-token", options.baseUrl ?? "https://api.anam.ai");
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const schemaOptions = { passthroughUnknownKeys: options.passthroughUnknownKeys ?? false };

  async function mint({ config, signal }: MintRequest<PersonaConfig>): Promise<MintedToken> {
    const body: Record<string, unknown> = { personaConfig: config };
    if (options.sessionOptions) body.sessionOptions = options.sessionOptions;
    if (options.clientLabel) body.clientLabel = options.clientLabel;

    const response = await fetchImpl(endpoint, {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    const mintedAt = Date.now();
    const text = await response.text();

    if (!response.ok) {
      throw new UpstreamError(response.status, upstreamMessage(text, response.status), parseRetryAfter(response.headers.get("Retry-After")));
    }
    const token = readSessionToken(text);
    return { token, expiresAt: expiryOf(token, mintedAt), status: response.status };
  }

  function classify(error: unknown): FailureClass {
    if (error instanceof UpstreamError) {
      // 400, 401, 403 and 404 (bad config, bad key, no permission, no persona) are never retried:
      // a second attempt would get the same answer.
      return {
        retryable: error.status === 408 || error.status === 429 || error.status >= 500,
        retryAfterMs: error.retryAfterMs,
        errorType: String(error.status),
      };
    }
    if (error instanceof InvalidUpstreamResponse) return { retryable: false, errorType: "invalid_response" };
    if (error instanceof AttemptTimeout) return { retryable: true, errorType: "timeout" };
    // fetch rejects with a TypeError when the connection fails: refused, reset, DNS.
    if (error instanceof TypeError) return { retryable: true, errorType: "network" };
    return { retryable: false, errorType: "unknown" };
  }

  return {
    name: "anam",
    endpoint,
    retry: resolveRetryOptions(options.retry),
    parseConfig: (input) => parsePersonaConfig(input, schemaOptions),
    mint,
    classify,
    redact: (text) => text.split(apiKey).join("[redacted]"),
  };
}

function readSessionToken(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidUpstreamResponse("Anam answered 200 with a body that is not JSON");
  }
  const token = (body as { sessionToken?: unknown } | null)?.sessionToken;
  if (typeof token !== "string" || token.length === 0) {
    throw new InvalidUpstreamResponse("Anam answered 200 without a sessionToken");
  }
  return token;
}

/** The token's own `exp` claim where it has one; otherwise the documented lifetime from now. */
export function expiryOf(token: string, mintedAt: number): number {
  return claimedExpiry(token) ?? mintedAt + DEFAULT_TOKEN_LIFETIME_MS;
}

/** Anam's error bodies carry `message` or `error`; keep it short, it is for the operator's log. */
function upstreamMessage(text: string, status: number): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    const message = body.message ?? body.error;
    if (typeof message === "string") return `Anam answered ${status}: ${message.slice(0, 500)}`;
  } catch {
    // Not JSON: fall through.
  }
  return `Anam answered ${status}`;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}
