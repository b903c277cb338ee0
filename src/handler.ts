import { trace } from "@opentelemetry/api";
import { isWellFormed, userTag } from "./canonical.ts";
import { OptionError, TollgateError } from "./errors.ts";
import { corsFor, type CorsOptions } from "./handler/cors.ts";
import { tokenAnswers } from "./handler/answers.ts";
import { causeChain, errorAnswer } from "./handler/error-answer.ts";
import { checkHandlerOptions, notAUserReporter } from "./handler/options.ts";
import { checkRateLimits, rateLimiterFor, usageRateLimiterFor, type HandlerRateLimit } from "./handler/rate-limits.ts";
import { isUsagePath, jsonResponse, readJsonBody } from "./http.ts";
import { createTokenIssuer, type IssueRequest, type IssuedToken, type TokenIssuer, type TokenIssuerOptions } from "./issuer/index.ts";
import { eventEmitter, type EventListener, type LifecycleEvent } from "./lifecycle.ts";
import { consoleLogger, type Logger } from "./log.ts";
import { profilesFrom, type Profile, type PersonaResolver, type ProfileResolver } from "./profiles.ts";
import type { ConfigInputOf, Provider, User } from "./provider.ts";
import type { StoreFailurePolicy } from "./rate-limit/index.ts";
import { checkSessionOptions, type SessionOptions } from "./sessions/leases.ts";
import { ATTR } from "./telemetry/attributes.ts";
import { telemetryListener } from "./telemetry/listener.ts";
import { routeTracer } from "./telemetry/route-span.ts";
import { tollgateTracer, type TelemetryOptions } from "./telemetry/scope.ts";
import { bodyCap, readTokenRequest, readUsageReport } from "./wire.ts";

/**
 * `createTokenHandler` answers `POST .../session-token` and `POST .../session-token/usage` with
 * the pipeline below, top to bottom:
 *
 *   CORS preflight -> method (405) -> authenticate (401) -> authorize (403) -> body: JSON (415),
 *   size (413), schema (400) -> profile (400) -> rate limits (429) -> issuer: cache, session lease
 *   (429 session_limit), single-flight, provider with retries -> 200 { token, expiresAt, ... }
 *
 * and the usage route: authenticate -> body -> the token's record (404, 403) -> 204. Anything that
 * goes wrong is a problem+json answer.
 */

/** Profiles typed by their providers, so that a config with a misspelt field fails to compile. */
export type ProfilesFor<P extends Record<string, Provider<any, any> | string>> = {
  [Name in keyof P]: { provider: P[Name]; config: P[Name] extends Provider<any, any> ? ConfigInputOf<P[Name]> : unknown; maxSessionSeconds?: number };
};

export interface TokenHandlerOptions<
  U extends User = User,
  P extends Record<string, Provider<any, any> | string> = Record<string, Provider<any, any> | string>,
  Short extends Provider<any, any> = Provider<any, any>,
> extends TelemetryOptions {
  /** The signed-in user, or null for a 401. May be async. */
  authenticate: (request: Request) => U | null | undefined | Promise<U | null | undefined>;
  /** Whether this user may mint tokens; false is a 403. Default: every authenticated user may. */
  authorize?: (user: U, request: Request) => boolean | Promise<boolean>;
  /**
   * The profiles a browser may ask for by name, each a provider and its config: a map, checked when
   * the handler is made, or a function for profiles that depend on the user.
   */
  profiles?: ProfilesFor<P> | ProfileResolver<U>;
  /** Providers by name, for profiles that name theirs by a string. */
  providers?: Record<string, Provider<any, any>>;
  /** The one-provider short form: with `personas`, or the provider of profiles that name none. */
  provider?: Short;
  /** With `provider`: its configs by name (for Anam, persona configs), typed by its schema. */
  personas?: Record<string, ConfigInputOf<Short>> | PersonaResolver<U>;
  /**
   * Accept a whole config from the browser (`config`, or `personaConfig` as Anam's guide writes it),
   * checked against `provider`'s schema. Off by default: a browser that picks its own system prompt
   * can make the avatar say anything.
   */
  allowClientConfig?: boolean;
  /** The longest session, in seconds, for every profile; sent to providers that can enforce it. */
  maxSessionSeconds?: number;
  /**
   * Largest request body read, in bytes, at least 1024. Default 16 KiB. A token whose usage reports
   * would not fit is refused as an invalid upstream answer (502); an `issuer` given here takes the
   * same cap as its own `maxReportBytes`.
   */
  maxBodyBytes?: number;
  /** Where cached tokens and their records live. Default: a bounded in-memory store. */
  store?: TokenIssuerOptions["store"];
  /** Token reuse; see TokenIssuerOptions. */
  reuse?: TokenIssuerOptions["reuse"];
  /**
   * Rate limits, checked after the profile is resolved and before the issuer: `"10/1h"`, options for
   * createRateLimiter, a limiter to share between handlers, or `false` for none. Default: 10 an hour
   * per user, fixed window, counted on `store` when it can hold rate limits (the Redis, Deno KV and
   * unstorage stores can), otherwise in this process's memory.
   */
  rateLimit?: HandlerRateLimit<U>;
  /**
   * Put the `RateLimit` and `RateLimit-Policy` fields on a 200 too, so that a client can see how many
   * tokens it has left before it is refused; a 429 always carries them. Off by default: a browser
   * asks for a token once per conversation and seldom needs them.
   */
  rateLimitFieldsOnSuccess?: boolean;
  /**
   * The usage route's limit per signed-in user, `"60/1m"` by default (a client sends three reports
   * a session), or `false` for none. A refusal is a 429 with `Retry-After`.
   */
  usageRateLimit?: string | false;
  /**
   * Session leases: `{ maxPerUser }` fresh tokens per user that may still become, or are, sessions,
   * counted on `store` when it can hold leases (so across every server sharing it), otherwise in
   * this process. Over the limit: 429 `session_limit`. Default: none. See docs/cost.md.
   */
  sessions?: SessionOptions;
  /**
   * When a shared store fails: `closed` answers 503 (the default), `open` lets requests through
   * without rate limits, `memory` carries on with stores in this process until the shared one is
   * back. The token cache cannot run open (it must know who owns a token), so there `open` means
   * `memory`. `rateLimit.onStoreError`, when given, rules for the rate limits.
   */
  onStoreError?: StoreFailurePolicy;
  /** CORS, for front ends on other origins. Default: none, and a preflight is a 405. */
  cors?: CorsOptions;
  /** An issuer to share with other handlers; by default the handler makes its own. */
  issuer?: TokenIssuer;
  /** Called with every lifecycle event. */
  onEvent?: EventListener;
  /** Where server failures are explained. Default: JSON lines on the console. */
  logger?: Logger;
  /**
   * A failing store is logged at its first failure, then at most once per this many ms, with how
   * many failures there were since the last line. Default 60 000.
   */
  storeFailureLogIntervalMs?: number;
  /** The realm named in `WWW-Authenticate`. Default "tollgate". */
  realm?: string;
  /**
   * Put the raw user id on spans as `enduser.id`. Off by default: telemetry names users by a
   * short hash (`enduser.pseudo.id`) so that no backend holds personal data unless you decide so.
   */
  recordUserIds?: boolean;
  /**
   * Development: say once in the log when `authenticate` returns something that is not a user.
   * Default: on unless NODE_ENV is "production".
   */
  dev?: boolean;
}

export type TokenHandler = ((request: Request) => Promise<Response>) & {
  readonly issuer: TokenIssuer;
  /** The profile names a browser may ask for, when they are known up front. */
  readonly profileNames: readonly string[] | undefined;
};

export function createTokenHandler<U extends User, P extends Record<string, Provider<any, any> | string> = Record<string, Provider<any, any> | string>, Short extends Provider<any, any> = Provider<any, any>>(
  options: TokenHandlerOptions<U, P, Short>,
): TokenHandler {
  if (typeof options?.authenticate !== "function") throw new OptionError("authenticate", "is required: a function from the request to the signed-in user (or null)");
  checkHandlerOptions(options as unknown as Record<string, unknown>);
  if (options.authorize !== undefined && typeof options.authorize !== "function") throw new OptionError("authorize", "must be a function");
  const maxBodyBytes = bodyCap("maxBodyBytes", options.maxBodyBytes);

  const profiles = profilesFrom<U>(options as Parameters<typeof profilesFrom<U>>[0]);
  const sessions = options.sessions === undefined ? undefined : checkSessionOptions(options.sessions);
  if (sessions && options.issuer) throw new OptionError("sessions", "belongs to the issuer when one is given: pass it to createTokenIssuer");
  const logger = options.logger ?? consoleLogger;
  const redact = (text: string) => profiles.providers.reduce((redacted, provider) => provider.redact(redacted), text);
  const emit = eventEmitter([telemetryListener(options), options.onEvent]);
  const traceRoute = routeTracer(tollgateTracer(options.tracerProvider));
  const logStoreFailure = storeFailureLog(logger, redact, options.storeFailureLogIntervalMs ?? 60_000);
  const issuer =
    options.issuer ??
    createTokenIssuer({
      store: options.store,
      reuse: options.reuse,
      maxSessionSeconds: options.maxSessionSeconds,
      sessions,
      profileNames: profiles.names,
      onStoreError: (options.onStoreError ?? "closed") === "closed" ? "closed" : "memory",
      onStoreFailure: logStoreFailure("token store failed"),
      events: emit,
      logger,
      maxReportBytes: maxBodyBytes,
      tracerProvider: options.tracerProvider,
      meterProvider: options.meterProvider,
    });
  const limitStoreFailure = logStoreFailure("rate-limit store failed");
  const limiter = rateLimiterFor<U>({ option: options.rateLimit, store: options.store, onStoreError: options.onStoreError, logStoreFailure: limitStoreFailure });
  const usageLimiter = usageRateLimiterFor(options.usageRateLimit, { store: options.store, onStoreError: options.onStoreError, logStoreFailure: limitStoreFailure });
  const answerText = tokenAnswers();
  const cors = corsFor(options.cors);
  const answerError = errorAnswer(emit, logger, redact);
  const challenge = `Bearer realm="${options.realm ?? "tollgate"}"`;
  const reportNotAUser = notAUserReporter(logger, options.dev);

  async function signedInUser(request: Request, context: Partial<LifecycleEvent>): Promise<U> {
    const user = await options.authenticate(request);
    // An id that is not well-formed Unicode has no UTF-8 form, so it could share its digest with another.
    if (!user || typeof user.id !== "string" || user.id === "" || !isWellFormed(user.id)) {
      reportNotAUser(user);
      throw new TollgateError("unauthenticated", { headers: { "WWW-Authenticate": challenge } });
    }
    if (options.recordUserIds) trace.getActiveSpan()?.setAttribute(ATTR.userId, user.id);
    context.user = await userTag(user.id);
    return user;
  }

  async function mintRoute(request: Request, context: Partial<LifecycleEvent>): Promise<Response> {
    emit("requested", context);
    const user = await signedInUser(request, context);
    if (options.authorize && !(await options.authorize(user, request))) throw new TollgateError("forbidden");

    const body = readTokenRequest(await readJsonBody(request, maxBodyBytes));
    const profile = await profiles.resolve(body, user);
    // Only a profile the server knows reaches telemetry: an unknown name is the browser's text.
    context.provider = profile.provider.name;
    context.profile = profile.name;

    const admitted = checkRateLimits(limiter, { user, request, profile: profile.name, provider: profile.provider.name }, context, emit, options.rateLimitFieldsOnSuccess ?? false);
    // Started together, so that on a shared store the limits' decision and the cache read go out in
    // one round trip; the issuer hands out or mints nothing before the limits admit the request.
    const issuing = issuer.issue(new HttpIssueRequest(profile, user.id, body.clientId, admitted, request));
    issuing.catch(() => {});
    const limits = await admitted;
    let issued: IssuedToken;
    try {
      issued = await issuing;
    } catch (error) {
      // The limits count tokens handed out (docs/cost.md): a mint that failed upstream, or a
      // request refused for its session limit, handed out nothing, so it does not count.
      if (limits) await limits.check.refund();
      throw error;
    }
    emit("issued", context, { cacheHit: issued.cacheHit });
    return jsonResponse(answerText(issued), limits?.fields);
  }

  async function usageRoute(request: Request, context: Partial<LifecycleEvent>): Promise<Response> {
    const user = await signedInUser(request, context);
    if (usageLimiter) {
      const check = await usageLimiter.check({ user });
      if (!check.allowed) {
        const { retryAfter } = check.decisions[check.decisions.length - 1]!;
        throw new TollgateError("rate_limited", { detail: `Too many usage reports; retry in ${retryAfter} s`, retryAfter, headers: check.fields });
      }
    }
    const report = readUsageReport(await readJsonBody(request, maxBodyBytes));
    await issuer.reportUsage({ ...report, userId: user.id });
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  }

  const handler = async (request: Request): Promise<Response> => {
    if (cors && request.method === "OPTIONS") return cors.preflight(request);
    const context: Partial<LifecycleEvent> = {};
    const isUsage = isUsagePath(request.url);
    const response = await traceRoute(isUsage ? "usage" : "issue", context, async () => {
      try {
        if (request.method !== "POST") throw new TollgateError("method_not_allowed", { headers: { Allow: cors ? "POST, OPTIONS" : "POST" } });
        return await (isUsage ? usageRoute(request, context) : mintRoute(request, context));
      } catch (error) {
        // The client went away: nobody will read an answer, and it is not the server's failure.
        if (request.signal.aborted) return new Response(null, { status: 499 });
        return answerError(error, context);
      }
    });
    return cors ? cors.decorate(request, response) : response;
  };
  return Object.assign(handler, { issuer, profileNames: profiles.names });
}

/**
 * The store-failure log: a store's first failure is a line of its own; while it keeps failing, at
 * most one line per `intervalMs` says how many more failures there were since the last line, so
 * that an outage does not write a line (or two) per request.
 */
function storeFailureLog(logger: Logger, redact: (text: string) => string, intervalMs: number) {
  if (!(intervalMs >= 0) || !Number.isFinite(intervalMs)) throw new OptionError("storeFailureLogIntervalMs", "must be a number of ms, 0 or more");
  return (message: string) => {
    let loggedAt: number | undefined;
    let since = 0;
    return (error: unknown, limit?: string) => {
      const now = Date.now();
      if (loggedAt !== undefined && now - loggedAt < intervalMs) {
        since++;
        return;
      }
      const fields = { ...(limit ? { limit } : {}), cause: redact(causeChain(error) ?? "unknown") };
      logger.warn(since > 0 ? { ...fields, failures: since } : fields, since > 0 ? `${message}: ${since} more failures since the last line` : message);
      loggedAt = now;
      since = 0;
    };
  };
}

/**
 * What the handler asks the issuer for. `signal` is read from the HTTP request only when the issuer
 * waits on the upstream: on Node through srvx the first read of `request.signal` builds an
 * AbortController and its listeners, which a cache hit never needs; `bench/http.ts` shows the
 * difference on Node. A class rather than an object literal with a getter, which V8 builds through
 * a slower path.
 */
class HttpIssueRequest implements IssueRequest {
  constructor(
    readonly profile: Profile,
    readonly userId: string,
    readonly clientId: string | undefined,
    readonly admitted: Promise<unknown>,
    private readonly request: Request,
  ) {}

  get signal(): AbortSignal {
    return this.request.signal;
  }
}
