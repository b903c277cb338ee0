import { trace } from "@opentelemetry/api";
import { TollgateError, problemResponse } from "./errors.ts";
import { readJsonBody, jsonResponse, tokenAnswers } from "./http.ts";
import { createTokenIssuer, type IssueRequest, type TokenIssuer, type TokenIssuerOptions } from "./issuer.ts";
import { eventEmitter, type EventListener, type LifecycleEvent } from "./lifecycle.ts";
import { consoleLogger, type Logger } from "./log.ts";
import { frozenDataCopy, userTag } from "./canonical.ts";
import { TokenRequestBody, UsageReportBody, ValidationError, parseBody } from "./schema.ts";
import { createRateLimiter, type RateLimitContext, type RateLimiter, type RateLimiterOptions, type StoreFailurePolicy } from "./rate-limit/index.ts";
import type { RateLimitStore } from "./rate-limit/types.ts";
import { ATTR } from "./telemetry/attributes.ts";
import { telemetryListener } from "./telemetry/listener.ts";
import { routeTracer } from "./telemetry/route-span.ts";
import { tollgateTracer, type TelemetryOptions } from "./telemetry/scope.ts";

/**
 * `createTokenHandler` answers `POST .../session-token` and `POST .../session-token/usage` with
 * the pipeline below, top to bottom:
 *
 *   method (405) -> authenticate (401) -> authorize (403) -> body: JSON (415), size (413),
 *   schema (400) -> persona (400) -> rate limits (429) -> issuer: cache, single-flight, upstream
 *   with retries -> 200 { sessionToken, expiresAt }, or a problem+json error.
 */

/** Whoever `authenticate` recognised. Only `id` is read by tollgate. */
export interface User {
  id: string;
}

export type PersonaResolver<U extends User> = (personaType: string, user: U) => unknown | undefined | Promise<unknown | undefined>;

export interface TokenHandlerOptions<U extends User = User> extends TelemetryOptions {
  provider: TokenIssuerOptions<unknown>["provider"];
  /** The signed-in user, or null for a 401. May be async. */
  authenticate: (request: Request) => U | null | undefined | Promise<U | null | undefined>;
  /** Whether this user may mint tokens; false is a 403. Default: every authenticated user may. */
  authorize?: (user: U, request: Request) => boolean | Promise<boolean>;
  /**
   * The persona configs the browser may choose from by `personaType`: a map, or a function for
   * configs that depend on the user. The server, not the browser, decides what a persona is.
   */
  personas: Record<string, unknown> | PersonaResolver<U>;
  /**
   * Accept a whole `personaConfig` from the browser, checked against the provider's schema.
   * Off by default: a browser that picks its own system prompt can make the avatar say anything.
   */
  allowClientConfig?: boolean;
  /** Largest request body read, in bytes. Default 16 KiB. */
  maxBodyBytes?: number;
  /** Where cached tokens and usage records live. Default: a bounded in-memory store. */
  store?: TokenIssuerOptions<unknown>["store"];
  /** Token reuse; see TokenIssuerOptions. Default: reuse until used or 10 minutes before expiry. */
  reuse?: TokenIssuerOptions<unknown>["reuse"];
  /**
   * Rate limits, checked after the persona is resolved and before the issuer. Options for
   * createRateLimiter, a limiter to share between handlers, or `false` for none. Default: 10 an
   * hour per user, fixed window, counted on `store` when it can hold rate limits (the Redis, Deno
   * KV and unstorage stores can), otherwise in this process's memory.
   */
  rateLimit?: RateLimiterOptions<HandlerRateLimitContext<U>> | RateLimiter<HandlerRateLimitContext<U>> | false;
  /**
   * Put the `RateLimit` and `RateLimit-Policy` fields on a 200 too, so that a client can see how many
   * tokens it has left before it is refused; a 429 always carries them. Off by default: a browser
   * asks for a token once per conversation and seldom needs them, and on Deno they take the token's
   * answer past the 512 bytes that Deno sends in one write (docs/benchmarks.md).
   */
  rateLimitFieldsOnSuccess?: boolean;
  /**
   * When a shared store fails: `closed` answers 503 (the default), `open` lets requests through
   * without rate limits, `memory` carries on with stores in this process until the shared one is
   * back. The token cache cannot run open (it must know who owns a token), so there `open` means
   * `memory`. `rateLimit.onStoreError`, when given, rules for the rate limits.
   */
  onStoreError?: StoreFailurePolicy;
  /** An issuer to share with other handlers; by default the handler makes its own. */
  issuer?: TokenIssuer;
  /** Called with every lifecycle event. */
  onEvent?: EventListener;
  /** Where upstream failures are explained. Default: JSON lines on the console. */
  logger?: Logger;
  /** The realm named in `WWW-Authenticate`. Default "tollgate". */
  realm?: string;
  /**
   * Put the raw user id on spans as `enduser.id`. Off by default: telemetry names users by a
   * short hash (`enduser.pseudo.id`) so that no backend holds personal data unless you decide so.
   */
  recordUserIds?: boolean;
}

/** What a limit's `key` and `cost` functions are given. */
export interface HandlerRateLimitContext<U extends User = User> extends RateLimitContext {
  user: U;
  request: Request;
  personaType: string;
}

export type TokenHandler = ((request: Request) => Promise<Response>) & { readonly issuer: TokenIssuer };

const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
/** The persona type that telemetry shows for a config the browser sent itself. */
const CLIENT_CONFIG = "client-config";

export function createTokenHandler<U extends User>(options: TokenHandlerOptions<U>): TokenHandler {
  const { provider } = options;
  const logger = options.logger ?? consoleLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const event = eventEmitter(provider.name, [telemetryListener(options), options.onEvent]);
  const traceRoute = routeTracer(tollgateTracer(options.tracerProvider), provider.name);
  const issuer =
    options.issuer ??
    createTokenIssuer({
      provider,
      store: options.store,
      reuse: options.reuse,
      onStoreError: (options.onStoreError ?? "closed") === "closed" ? "closed" : "memory",
      onStoreFailure: (error) => logStoreFailure(logger, provider, "token store failed", error),
      onEvent: options.onEvent,
      tracerProvider: options.tracerProvider,
      meterProvider: options.meterProvider,
    });
  const resolvePersona = personaResolver(options.personas, provider.parseConfig);
  const challenge = `Bearer realm="${options.realm ?? "tollgate"}"`;
  const limiter = rateLimiterFor(options, logger);
  const answerJson = tokenAnswers();

  async function signedInUser(request: Request): Promise<U> {
    const user = await options.authenticate(request);
    if (!user || typeof user.id !== "string" || user.id === "") {
      throw new TollgateError("unauthenticated", { headers: { "WWW-Authenticate": challenge } });
    }
    if (options.recordUserIds) trace.getActiveSpan()?.setAttribute(ATTR.userId, user.id);
    return user;
  }

  async function mintRoute(request: Request, context: Partial<LifecycleEvent>): Promise<Response> {
    event("requested");
    const user = await signedInUser(request);
    context.user = await userTag(user.id);
    if (options.authorize && !(await options.authorize(user, request))) throw new TollgateError("forbidden");

    const body = parseBody(TokenRequestBody, await readJsonBody(request, maxBodyBytes));
    let config: unknown;
    if (body.personaConfig !== undefined) {
      if (!options.allowClientConfig) {
        throw new TollgateError("invalid_request", { detail: "personaConfig is not accepted here; name a personaType" });
      }
      config = parseClientConfig(body.personaConfig);
      context.personaType = CLIENT_CONFIG;
    } else {
      if (body.personaType === undefined) throw new TollgateError("invalid_request", { detail: "personaType is required" });
      config = await resolvePersona(body.personaType, user);
      // Only a persona type the server knows reaches telemetry: an unknown one is the browser's text.
      context.personaType = body.personaType;
    }

    const rateLimitFields = await checkRateLimits(user, request, context);
    const issued = await issuer.issue(new HttpIssueRequest(config, user.id, context.personaType, request));
    event("issued", context, { cacheHit: issued.cacheHit });
    return jsonResponse(answerJson(issued.token, issued.expiresAt), rateLimitFields);
  }

  /** The rate-limit step: a 429 with the limit's headers, or the headers a 200 carries, if any. */
  async function checkRateLimits(user: U, request: Request, context: Partial<LifecycleEvent>): Promise<Record<string, string> | undefined> {
    if (!limiter) return undefined;
    const check = await limiter.check({ user, request, personaType: context.personaType! });
    if (check.allowed) {
      context.rateLimit = "allowed";
      return options.rateLimitFieldsOnSuccess ? check.fields : undefined;
    }
    const refusal = check.decisions.find((decision) => !decision.allowed)!;
    event("rate_limited", context, { status: 429, limit: refusal.name });
    throw new TollgateError("rate_limited", {
      detail: `Rate limit "${refusal.name}" reached; retry in ${refusal.retryAfter} s`,
      retryAfter: refusal.retryAfter,
      headers: check.fields,
    });
  }

  function parseClientConfig(input: unknown): unknown {
    try {
      return provider.parseConfig(input);
    } catch (error) {
      if (error instanceof ValidationError) throw new TollgateError("invalid_request", { detail: `personaConfig: ${error.message}` });
      throw error;
    }
  }

  async function usageRoute(request: Request, context: Partial<LifecycleEvent>): Promise<Response> {
    const user = await signedInUser(request);
    context.user = await userTag(user.id);
    const body = parseBody(UsageReportBody, await readJsonBody(request, maxBodyBytes));
    await issuer.reportUsage({ token: body.sessionToken, userId: user.id, event: body.event, durationMs: body.durationMs });
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  }

  function answerError(error: unknown, context: Partial<LifecycleEvent>): Response {
    const known = toTollgateError(error);
    context.errorType = known.code;
    if (known.code === "unauthenticated" || known.code === "forbidden") {
      event("denied", context, { status: known.status, errorType: known.code });
    } else if (known.code !== "rate_limited") {
      event("failed", context, { status: known.status, errorType: known.code });
    }
    if (known.status >= 500) {
      const cause = known.cause instanceof Error ? `${known.cause.name}: ${known.cause.message}` : undefined;
      logger.error(known.detail, { code: known.code, status: known.status, cause: cause && provider.redact(cause) });
    }
    return problemResponse(known);
  }

  const handler = (request: Request): Promise<Response> => {
    const context: Partial<LifecycleEvent> = {};
    const isUsage = isUsagePath(request.url);
    return traceRoute(isUsage ? "usage" : "issue", context, async () => {
      try {
        if (request.method !== "POST") throw new TollgateError("method_not_allowed", { headers: { Allow: "POST" } });
        return await (isUsage ? usageRoute(request, context) : mintRoute(request, context));
      } catch (error) {
        // The client went away: nobody will read an answer, and it is not the server's failure.
        if (request.signal.aborted) return new Response(null, { status: 499 });
        return answerError(error, context);
      }
    });
  };
  return Object.assign(handler, { issuer });
}

/**
 * Whether an absolute URL, as a runtime gives `request.url`, names the usage route: its path (what
 * lies between the authority and any query or fragment) ends in `/usage`, trailing slashes aside.
 * Found with string searches, which cost far less than parsing the URL.
 */
function isUsagePath(url: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return false;
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query !== -1) end = query;
  const fragment = url.indexOf("#", start);
  if (fragment !== -1 && fragment < end) end = fragment;
  while (end > start + 1 && url[end - 1] === "/") end--;
  return url.startsWith("/usage", end - "/usage".length) && end - "/usage".length >= start;
}

/**
 * What the handler asks the issuer for. `signal` is read from the HTTP request only when the issuer
 * waits on the upstream: on some servers (srvx on Node) the first read of `request.signal` builds
 * an AbortController and listeners, which a cache hit never needs. A class rather than an object
 * literal with a getter, which V8 builds through a slow path on every request.
 */
class HttpIssueRequest implements IssueRequest {
  constructor(
    readonly config: unknown,
    readonly userId: string,
    readonly personaType: string | undefined,
    private readonly request: Request,
  ) {}

  get signal(): AbortSignal {
    return this.request.signal;
  }
}

function isRateLimitStore(store: unknown): store is RateLimitStore {
  return typeof (store as Partial<RateLimitStore> | undefined)?.consume === "function";
}

function rateLimiterFor<U extends User>(options: TokenHandlerOptions<U>, logger: Logger): RateLimiter<HandlerRateLimitContext<U>> | undefined {
  const given = options.rateLimit ?? {};
  if (given === false) return undefined;
  if (typeof (given as RateLimiter<HandlerRateLimitContext<U>>).check === "function") return given as RateLimiter<HandlerRateLimitContext<U>>;
  const limiterOptions = given as RateLimiterOptions<HandlerRateLimitContext<U>>;
  return createRateLimiter({
    ...limiterOptions,
    store: limiterOptions.store ?? (isRateLimitStore(options.store) ? options.store : undefined),
    onStoreError: limiterOptions.onStoreError ?? options.onStoreError,
    onStoreFailure: (error, limit) => {
      limiterOptions.onStoreFailure?.(error, limit);
      logStoreFailure(logger, options.provider, "rate-limit store failed", error, { limit });
    },
  });
}

/** The policy decides the answer; the operator still needs to know that a store is failing. */
function logStoreFailure(logger: Logger, provider: { redact(text: string): string }, message: string, error: unknown, fields: Record<string, unknown> = {}) {
  logger.warn(message, { ...fields, cause: provider.redact(error instanceof Error ? `${error.name}: ${error.message}` : "unknown") });
}

function toTollgateError(error: unknown): TollgateError {
  if (error instanceof TollgateError) return error;
  if (error instanceof ValidationError) return new TollgateError("invalid_request", { detail: error.message });
  return new TollgateError("internal", { cause: error });
}

/**
 * A map's configs are checked once, when the handler is made, so a typo fails at start-up rather
 * than on a user's request. A function's are checked by the issuer on each request.
 */
function personaResolver<U extends User>(personas: TokenHandlerOptions<U>["personas"], parseConfig: (input: unknown) => unknown): PersonaResolver<U> {
  if (typeof personas === "function") {
    return async (personaType, user) => {
      const config = await personas(personaType, user);
      if (config === undefined || config === null) throw unknownPersona(personaType);
      return checkedServerConfig(config, parseConfig, personaType);
    };
  }
  const configs = new Map<string, unknown>();
  for (const [personaType, config] of Object.entries(personas)) {
    const checked = checkedServerConfig(config, parseConfig, personaType, true);
    // A frozen copy can never change, so the issuer may check and serialise it once rather than on
    // every request. A config that is not plain data is kept as it is and checked each time.
    configs.set(personaType, frozenDataCopy(checked) ?? checked);
  }
  return (personaType) => {
    if (!configs.has(personaType)) throw unknownPersona(personaType);
    return configs.get(personaType);
  };
}

function checkedServerConfig(config: unknown, parseConfig: (input: unknown) => unknown, personaType: string, atStartup = false): unknown {
  try {
    return parseConfig(config);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const message = `The persona config for "${personaType}" is invalid: ${error.message}`;
    // A server-side config is the app's mistake, not the browser's: a 500, explained in the log.
    if (atStartup) throw new TypeError(message);
    throw new TollgateError("internal", { cause: new Error(message) });
  }
}

function unknownPersona(personaType: string) {
  return new TollgateError("unknown_persona", { detail: `No persona type named "${personaType}"` });
}
