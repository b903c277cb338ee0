/**
 * tollgate: mint short-lived session tokens for realtime AI clients on your server.
 *
 * Start with `createTokenHandler` (a fetch handler for any runtime or router) and a provider such as
 * `anam`. `createTokenIssuer` is the same pipeline without HTTP.
 */
export { createTokenHandler, type TokenHandler, type TokenHandlerOptions, type User, type PersonaResolver } from "./handler.ts";
export { createTokenIssuer, type TokenIssuer, type TokenIssuerOptions, type IssueRequest, type IssuedToken, type UsageReport, type TokenInspection } from "./issuer.ts";
export { anam, expiryOf, parseRetryAfter, type AnamOptions, type AnamProvider } from "./providers/anam.ts";
export { UpstreamError, InvalidUpstreamResponse, type Provider, type MintRequest, type MintedToken, type FailureClass } from "./provider.ts";
export { resolveRetryOptions, backoffDelay, type RetryOptions } from "./retry.ts";
export { parsePersonaConfig, parseSessionOptions, ValidationError, LEGACY_BRAIN_TYPES, type PersonaConfig, type StatefulPersonaConfig, type EphemeralPersonaConfig, type SessionOptions } from "./schema.ts";
export { TollgateError, ERROR_KINDS, problemType, problemResponse, type ErrorCode } from "./errors.ts";
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
export type { HandlerRateLimitContext } from "./handler.ts";
export { telemetryListener, withServerSpan, INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, ATTR, type TelemetryOptions, type ServerSpanOptions } from "./telemetry/index.ts";
