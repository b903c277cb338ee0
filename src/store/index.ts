/**
 * tollgate/store: what a store author needs. The interfaces a store implements, the embedded
 * memory store to compare against, the envelope for backends without exact expiry, the dependent
 * read (`getDependent`) for a store without one of its own, and the prefix rule every store's
 * options share. tollgate/store/contract holds the cases every store passes.
 */
export type { CacheEnvelope, CacheStore } from "./types.ts";
export { memoryCache, type MemoryCache, type MemoryCacheOptions } from "./memory-cache.ts";
export { envelope, openEnvelope } from "./envelope.ts";
export { dependencyOf, getDependent } from "./dependent.ts";
export { checkPrefix, DEFAULT_PREFIX } from "./prefix.ts";
export type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../rate-limit/types.ts";
// The steps the memory store takes, for a store that keeps rate-limit state as plain values and
// can commit one conditionally (as adapters/deno-kv.ts does).
export { assertValidRule, rateLimitStep, retrySeconds, type LimitEnvelope, type RateLimitState } from "../rate-limit/algorithms.ts";
