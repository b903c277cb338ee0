/**
 * tollgate: mint short-lived client credentials for realtime AI on your server, so that no browser
 * ever sees a provider's API key.
 *
 * Start with `createTokenHandler` (a fetch handler for any runtime or router) and a provider from
 * its own entry point (`tollgate/anam`, `tollgate/openai`, ...). `createTokenIssuer` is the same
 * pipeline without HTTP. Reading order for the code: handler.ts (the pipeline), profiles.ts,
 * issuer/ (keys, single flight, records, the upstream call), provider.ts (what a provider is),
 * providers/ (one folder each).
 */
export { createTokenHandler, type TokenHandler, type TokenHandlerOptions, type ProfilesFor } from "./handler.ts";
export type { HandlerRateLimitContext, HandlerRateLimit } from "./handler/rate-limits.ts";
export type { CorsOptions } from "./handler/cors.ts";
export { createProfile, CLIENT_CONFIG_PROFILE, type Profile, type ProfileSpec, type ProfileResolver, type PersonaResolver } from "./profiles.ts";
export { createTokenIssuer, type TokenIssuer, type TokenIssuerOptions, type IssueRequest, type IssuedToken, type UsageReport, type TokenInspection } from "./issuer/index.ts";
export {
  defineProvider,
  DEFAULT_MAX_SESSION_SECONDS,
  defaultReuseMargin,
  providerIdentity,
  parseConfig,
  tokenUseOf,
  type Provider,
  type User,
  type MintContext,
  type MintedToken,
  type TokenExtra,
  type TokenUse,
  type FailureClass,
  type Upstream,
  type ConfigOf,
  type ConfigInputOf,
} from "./provider.ts";
export { defineHttpProvider, classifyFailure, parseRetryAfter, upstreamBaseUrl, MAX_UPSTREAM_BODY_BYTES, type HttpProvider, type HttpProviderOptions, type HttpProviderSpec, type FetchLike } from "./providers/http.ts";
export { resolveRetryOptions, backoffDelay, type RetryOptions } from "./retry.ts";
export {
  TollgateError,
  OptionError,
  ValidationError,
  UpstreamError,
  InvalidUpstreamResponse,
  ERROR_KINDS,
  MAX_RETRY_AFTER_SECONDS,
  problemType,
  problemResponse,
  type ErrorCode,
} from "./errors.ts";
export { PROFILE_NAME, CLIENT_ID, MAX_TOKEN_CHARS } from "./wire.ts";
export { LIFECYCLE_EVENTS, type LifecycleEvent, type LifecycleEventName, type EventListener } from "./lifecycle.ts";
export { memoryCache, type MemoryCacheOptions } from "./store/memory-cache.ts";
export type { CacheStore } from "./store/types.ts";
export { consoleLogger, type Logger } from "./log.ts";
export {
  createRateLimiter,
  memoryRateLimitStore,
  parseRateLimit,
  rateLimitFields,
  rateLimitHeaders,
  StoreUnavailableError,
  DEFAULT_RATE_LIMIT,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitCheck,
  type RateLimitContext,
  type NamedRateLimit,
  type LimitDecision,
  type StoreFailurePolicy,
  type MemoryRateLimitStoreOptions,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  type RateLimitRule,
  type RateLimitStore,
} from "./rate-limit/index.ts";
export { telemetryListener, withServerSpan, INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, ATTR, type TelemetryOptions, type ServerSpanOptions } from "./telemetry/index.ts";
export { memoryLeaseStore, type LeaseStore, type LeaseDecision, type FlightLockStore, type MemoryLeaseStoreOptions, type SessionOptions } from "./sessions/index.ts";
