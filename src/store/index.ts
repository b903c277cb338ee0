/**
 * tollgate/store: what a store author needs. The interfaces a store implements, the embedded
 * memory store to compare against, the envelope for backends without exact expiry, and the prefix
 * rule every store's options share. test/stores/ holds the contract suite each store passes.
 */
export type { CacheEnvelope, CacheStore } from "./types.ts";
export { memoryCache, type MemoryCache, type MemoryCacheOptions } from "./memory-cache.ts";
export { envelope, openEnvelope } from "./envelope.ts";
export { checkPrefix, DEFAULT_PREFIX } from "./prefix.ts";
export type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../rate-limit/types.ts";
// The steps the memory store takes, for a store that keeps rate-limit state as plain values and
// can commit one conditionally (as adapters/deno-kv.ts does).
export { assertValidRule, rateLimitStep, retrySeconds, type LimitEnvelope, type RateLimitState } from "../rate-limit/algorithms.ts";
