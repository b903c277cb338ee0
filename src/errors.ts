/**
 * Every error tollgate answers with has a stable code, an HTTP status and a text that is safe to
 * show a browser. What only the operator should read (an upstream's own message) goes in `cause`
 * and the server's log, never in the response.
 */

export const ERROR_KINDS = {
  method_not_allowed: { status: 405, title: "Method not allowed" },
  unauthenticated: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Not allowed to mint session tokens" },
  unsupported_media_type: { status: 415, title: "Body must be application/json" },
  payload_too_large: { status: 413, title: "Body too large" },
  invalid_request: { status: 400, title: "Invalid request body" },
  unknown_persona: { status: 400, title: "Unknown persona type" },
  not_found: { status: 404, title: "Not found" },
  token_not_found: { status: 404, title: "Session token not known" },
  token_not_owned: { status: 403, title: "Session token belongs to another user" },
  rate_limited: { status: 429, title: "Too many session tokens requested" },
  upstream_rejected: { status: 502, title: "The token provider refused the request" },
  upstream_invalid_response: { status: 502, title: "The token provider answered with no usable token" },
  upstream_unavailable: { status: 503, title: "The token provider is unavailable" },
  upstream_timeout: { status: 504, title: "The token provider did not answer in time" },
  store_unavailable: { status: 503, title: "The token store is unavailable" },
  internal: { status: 500, title: "Internal error" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_KINDS;

/** The `type` of a problem+json body: a stable URI per kind of error, for callers to branch on. */
export function problemType(code: ErrorCode): string {
  return `urn:tollgate:error:${code}`;
}

export interface TollgateErrorOptions {
  /** Safe for the client to read. Defaults to the kind's title. */
  detail?: string;
  /** Seconds the client should wait, sent as `Retry-After`. */
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
    this.retryAfter = options.retryAfter;
    this.headers = options.headers;
  }
}

/** An RFC 9457 problem+json response for `error`. */
export function problemResponse(error: TollgateError): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  if (error.retryAfter !== undefined) headers.set("Retry-After", String(Math.max(0, Math.ceil(error.retryAfter))));
  const body = {
    type: problemType(error.code),
    title: ERROR_KINDS[error.code].title,
    status: error.status,
    detail: error.detail,
  };
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
