/**
 * What tollgate needs from a token provider. A provider makes one upstream attempt per `mint` call
 * and says which of its failures are worth another attempt; the issuer owns retries, caching and
 * telemetry, so every provider gets them the same way.
 */

export interface MintRequest<Config = unknown> {
  config: Config;
  /** Aborts the attempt: the caller went away, the attempt timed out, or the deadline passed. */
  signal: AbortSignal;
}

export interface MintedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface FailureClass {
  /** Worth another attempt (408, 429, 5xx, network errors, timeouts). */
  retryable: boolean;
  /** How long the upstream asked us to wait, in milliseconds, from its `Retry-After`. */
  retryAfterMs?: number;
  /** A low-cardinality name for the failure: an HTTP status, or a name such as `network`. */
  errorType: string;
}

export interface Provider<Config = unknown> {
  /** A short, stable name: part of cache keys and telemetry. */
  readonly name: string;
  /** Checks and normalises a persona config before any upstream call; throws on a bad one. */
  parseConfig(input: unknown): Config;
  /** One upstream attempt. */
  mint(request: MintRequest<Config>): Promise<MintedToken>;
  /** Classifies what `mint` threw. */
  classify(error: unknown): FailureClass;
  /** Removes secrets from text headed for a log. */
  redact(text: string): string;
  /** Where requests go, for telemetry (`server.address`). */
  readonly endpoint: URL;
}

/** An upstream HTTP answer that was not a token. `message` is the upstream's own text, for logs only. */
export class UpstreamError extends Error {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, retryAfterMs?: number) {
    super(message);
    this.name = "UpstreamError";
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A 200 whose body held no usable token. */
export class InvalidUpstreamResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidUpstreamResponse";
  }
}
