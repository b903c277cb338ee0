/**
 * Every error tollgate throws is a TollgateError with a stable `code`, as jose's errors are: an
 * HTTP status, and a text that is safe to show a browser. What only the operator should read (an
 * upstream's own message) goes in `cause` and the server's log, never in the response. Subclasses
 * name the errors that callers catch by kind.
 */

export const ERROR_KINDS = {
  method_not_allowed: { status: 405, title: "Method not allowed" },
  unauthenticated: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Not allowed to mint tokens" },
  unsupported_media_type: { status: 415, title: "Body must be application/json" },
  payload_too_large: { status: 413, title: "Body too large" },
  invalid_request: { status: 400, title: "Invalid request body" },
  unknown_profile: { status: 400, title: "Unknown profile" },
  not_found: { status: 404, title: "Not found" },
  token_not_found: { status: 404, title: "Token not known" },
  token_not_owned: { status: 403, title: "Token belongs to another user" },
  rate_limited: { status: 429, title: "Too many tokens requested" },
  session_limit: { status: 429, title: "Too many sessions at once" },
  upstream_rejected: { status: 502, title: "The token provider refused the request" },
  upstream_invalid_response: { status: 502, title: "The token provider answered with no usable token" },
  upstream_unavailable: { status: 503, title: "The token provider is unavailable" },
  upstream_timeout: { status: 504, title: "The token provider did not answer in time" },
  store_unavailable: { status: 503, title: "The token store is unavailable" },
  invalid_option: { status: 500, title: "The token server is misconfigured" },
  internal: { status: 500, title: "Internal error" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_KINDS;

/** The `type` of a problem+json body: a stable URI per kind of error, for callers to branch on. */
export function problemType(code: ErrorCode): string {
  return `urn:tollgate:error:${code}`;
}

/** The longest `Retry-After` tollgate sends, whatever an upstream or a store said: an hour. */
export const MAX_RETRY_AFTER_SECONDS = 3600;

export interface TollgateErrorOptions {
  /** Safe for the client to read. Defaults to the kind's title. */
  detail?: string;
  /** Seconds the client should wait, sent as `Retry-After` (whole seconds, at most an hour). */
  retryAfter?: number;
  /** Extra response headers (rate-limit fields, `WWW-Authenticate`, `Allow`). */
  headers?: HeadersInit;
  /** For the server's log only. */
  cause?: unknown;
}

export class TollgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly retryAfter: number | undefined;
  readonly headers: HeadersInit | undefined;

  constructor(code: ErrorCode, options: TollgateErrorOptions = {}) {
    const kind = ERROR_KINDS[code];
    super(options.detail ?? kind.title, { cause: options.cause });
    this.name = "TollgateError";
    this.code = code;
    this.status = kind.status;
    this.detail = options.detail ?? kind.title;
    this.retryAfter = options.retryAfter === undefined ? undefined : delaySeconds(options.retryAfter);
    this.headers = options.headers;
  }
}

/**
 * A handler, issuer, provider or store made with options that cannot work. Thrown when it is made,
 * never on a user's request; the message names the option.
 */
export class OptionError extends TollgateError {
  constructor(option: string, problem: string) {
    super("invalid_option", { detail: `${option}: ${problem}` });
    this.name = "OptionError";
  }
}

/** Input that does not fit its schema: a request body, or a config the browser sent. */
export class ValidationError extends TollgateError {
  constructor(message: string) {
    super("invalid_request", { detail: message });
    this.name = "ValidationError";
  }
}

/**
 * An upstream HTTP answer that was not a token. `message` is the upstream's own text, for the
 * operator's log only; `upstreamStatus` is what the upstream answered, not what tollgate answers.
 */
export class UpstreamError extends TollgateError {
  readonly upstreamStatus: number;
  readonly retryAfterMs: number | undefined;

  constructor(upstreamStatus: number, message: string, retryAfterMs?: number) {
    super(upstreamStatus === 429 || upstreamStatus >= 500 ? "upstream_unavailable" : "upstream_rejected", { cause: new Error(message) });
    this.name = "UpstreamError";
    this.message = message;
    this.upstreamStatus = upstreamStatus;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A 200 that held no usable token: no token, not JSON, too long, or already expired. */
export class InvalidUpstreamResponse extends TollgateError {
  constructor(message: string) {
    super("upstream_invalid_response", { cause: new Error(message) });
    this.name = "InvalidUpstreamResponse";
    this.message = message;
  }
}

/** Valid delay-seconds (RFC 9110 §10.2.3): a whole number from 0 to an hour. */
export function delaySeconds(seconds: number): number {
  if (Number.isNaN(seconds) || seconds <= 0) return 0;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil(seconds));
}

/** An RFC 9457 problem+json response for `error`. */
export function problemResponse(error: TollgateError): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  if (error.retryAfter !== undefined) headers.set("Retry-After", String(error.retryAfter));
  const body = {
    type: problemType(error.code),
    title: ERROR_KINDS[error.code].title,
    status: error.status,
    detail: error.detail,
  };
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
