import type { StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidUpstreamResponse, OptionError, UpstreamError } from "../errors.ts";
import { readCappedText } from "../http.ts";
import { defineProvider, providerIdentity, type FailureClass, type MintContext, type MintedToken, type Provider, type TokenUse } from "../provider.ts";
import { AttemptTimeout, resolveRetryOptions, type RetryOptions } from "../retry.ts";

/**
 * What the HTTP providers share: one JSON call to the upstream (GET with a query, or POST with a JSON
 * body), its answer read with a size cap, `Retry-After` read as RFC 9110 has it, failures classified
 * by status, and the API key redacted from everything headed for a log. A provider folder describes
 * its endpoint, its request and how to read its answer; `defineHttpProvider` does the rest.
 */

/** The fetch to call an upstream with; typed by its call alone, since each runtime's `typeof fetch` adds members of its own. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The options every HTTP provider's factory takes. */
export interface HttpProviderOptions {
  /** The provider's API key. It is sent only to `baseUrl`, and redacted from anything tollgate logs. */
  apiKey: string;
  /** Where the provider's API is; each provider has its own default. */
  baseUrl?: string | URL;
  /** Retry policy for the upstream call. See RetryOptions for the defaults. */
  retry?: RetryOptions;
  /** The fetch to call the upstream with. Default the global `fetch`. */
  fetch?: FetchLike;
}

/** An upstream's answer body is read up to this many bytes; a token never needs more. */
export const MAX_UPSTREAM_BODY_BYTES = 64 * 1024;

/** What one mint asks of the upstream, beyond the endpoint: a query, a JSON body, or both. */
export interface UpstreamRequest {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

export interface HttpProviderSpec<Config, Input> {
  /** `anam`, `openai`, ...: see Provider.name. */
  name: string;
  /** How messages name the provider: `Anam`, `OpenAI`. */
  label: string;
  defaultBaseUrl: string;
  /** The mint endpoint's path under the base URL. */
  path: string;
  method: "GET" | "POST";
  config: StandardSchemaV1<Input, Config>;
  tokenUse: TokenUse | ((config: Config) => TokenUse);
  reuseMarginMs?: (lifetimeMs: number) => number;
  /** See Provider.enforcesSessionCeiling; `request` is what sends the ceiling. */
  enforcesSessionCeiling?: (config: Config) => { minSeconds: number } | false;
  /** The headers that carry the API key (`Authorization: Bearer ...`, `xi-api-key`, ...). */
  authHeaders(apiKey: string): Record<string, string>;
  /** The query and body for one mint. */
  request(config: Config, context: MintContext): UpstreamRequest;
  /**
   * The token in a 200's JSON body. `mintedAt` is when the answer arrived, for providers that state
   * a lifetime rather than an expiry; `sent` is what `request` asked for, for providers whose answer
   * leaves out what was asked (an expiry the request set). Throws InvalidUpstreamResponse when there
   * is no token.
   */
  read(body: unknown, context: { mintedAt: number; config: Config; sent: UpstreamRequest }): Omit<MintedToken, "status">;
  /** The upstream's own explanation in an error body, for the log; default `message`, `error` or `detail`. */
  errorMessage?(body: unknown): string | undefined;
}

/** An HTTP provider as `defineHttpProvider` makes it: a Provider with its upstream described. */
export type HttpProvider<Config, Input = Config> = Provider<Config, Input> & { readonly upstream: NonNullable<Provider["upstream"]> };

export function defineHttpProvider<Config, Input>(spec: HttpProviderSpec<Config, Input>, options: HttpProviderOptions): HttpProvider<Config, Input> {
  const apiKey = options?.apiKey;
  if (typeof apiKey !== "string" || apiKey.trim() === "") throw new OptionError(`${spec.name}(): apiKey`, "is required");
  const baseUrl = upstreamBaseUrl(`${spec.name}(): baseUrl`, options.baseUrl ?? spec.defaultBaseUrl);
  const endpoint = new URL(spec.path.replace(/^\//, ""), baseUrl);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const authHeaders = spec.authHeaders(apiKey);
  const readMessage = spec.errorMessage ?? defaultErrorMessage;
  // The key as headers carry it (trimmed), which also covers any text that quotes it untrimmed.
  const secret = apiKey.trim();
  const redact = (text: string) => text.split(secret).join("[redacted]");

  async function mint(config: Config, context: MintContext): Promise<MintedToken> {
    const sent = spec.request(config, context);
    const { query, body } = sent;
    const url = new URL(endpoint);
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = { ...authHeaders, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";

    const response = await fetchImpl(url, {
      method: spec.method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: context.signal,
    });
    const mintedAt = Date.now();
    const text = await readCapped(response, MAX_UPSTREAM_BODY_BYTES);
    if (!response.ok) {
      // Redacted here, where the provider knows its key: an upstream may quote the key it refused, and
      // a provider that only a profile resolver reaches is not among those the handler redacts for.
      const message = text === undefined ? undefined : readMessage(parseJson(text));
      throw new UpstreamError(
        response.status,
        `${spec.label} answered ${response.status}${message ? `: ${redact(message).slice(0, 500)}` : ""}`,
        parseRetryAfter(response.headers.get("Retry-After")),
      );
    }
    if (text === undefined) throw new InvalidUpstreamResponse(`${spec.label} answered 200 with a body over ${MAX_UPSTREAM_BODY_BYTES} bytes`);
    const json = parseJson(text);
    if (json === undefined) throw new InvalidUpstreamResponse(`${spec.label} answered 200 with a body that is not JSON`);
    return { ...spec.read(json, { mintedAt, config, sent }), status: response.status };
  }

  const provider = defineProvider<Config, Input>({
    name: spec.name,
    config: spec.config,
    tokenUse: spec.tokenUse,
    reuseMarginMs: spec.reuseMarginMs,
    enforcesSessionCeiling: spec.enforcesSessionCeiling,
    mint,
    upstream: { endpoint, method: spec.method, retry: resolveRetryOptions(options.retry), classify: classifyFailure },
    identity: providerIdentity(baseUrl.href, apiKey),
    redact,
  });
  return provider as HttpProvider<Config, Input>;
}

/**
 * The base URL of an upstream, checked: http(s), and no credentials in it, since a URL is printed
 * in banners and error lines and `user:pw@` would put a password there. The message names the
 * option and never repeats the URL.
 */
export function upstreamBaseUrl(option: string, value: string | URL): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OptionError(option, "must be an http(s) URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new OptionError(option, "must be an http(s) URL");
  if (url.username || url.password) throw new OptionError(option, "must not carry credentials (user:password@); pass the API key as the key option");
  // A base with a path (a gateway's prefix) keeps it: endpoints are resolved under it.
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  url.search = "";
  url.hash = "";
  return url;
}

/**
 * 400, 401, 403, 404 and 422 (bad config, bad key, no permission, nothing there) are never retried:
 * a second attempt would get the same answer. 408, 429, 5xx, network failures and timeouts are.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (error instanceof UpstreamError) {
    const status = error.upstreamStatus;
    return { retryable: status === 408 || status === 429 || status >= 500, retryAfterMs: error.retryAfterMs, errorType: String(status) };
  }
  if (error instanceof InvalidUpstreamResponse) return { retryable: false, errorType: "invalid_response" };
  if (error instanceof AttemptTimeout) return { retryable: true, errorType: "timeout" };
  // fetch rejects with a TypeError when the connection fails: refused, reset, DNS.
  if (error instanceof TypeError) return { retryable: true, errorType: "network" };
  return { retryable: false, errorType: "unknown" };
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); anything else is ignored. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}

/** The body's text, or undefined when it is longer than `maxBytes` (the rest is not read). */
export async function readCapped(response: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(response.headers.get("Content-Length") ?? Number.NaN);
  if (!response.body) return "";
  if (declared > maxBytes) {
    await response.body.cancel().catch(() => {});
    return undefined;
  }
  const text = await readCappedText(response.body, maxBytes);
  if (text === undefined) await response.body.cancel().catch(() => {});
  return text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `message`, `error`, `detail`, or the same one level down (`{ error: { message } }`), as most APIs write them. */
function defaultErrorMessage(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  for (const field of ["message", "error", "detail", "err_msg"]) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === "string") return value;
    const nested = defaultErrorMessage(value);
    if (nested) return nested;
  }
  return undefined;
}

/** A string field of a JSON object, or undefined. For providers' `read`. */
export function stringField(body: unknown, ...path: string[]): string | undefined {
  let value: unknown = body;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** A finite number field of a JSON object, or undefined. For providers' `read`. */
export function numberField(body: unknown, ...path: string[]): number | undefined {
  let value: unknown = body;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
