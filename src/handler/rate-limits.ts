import { OptionError, TollgateError } from "../errors.ts";
import type { EventEmitter, LifecycleEvent } from "../lifecycle.ts";
import type { User } from "../provider.ts";
import { createRateLimiter, parseRateLimit, RateLimitOptionError, type RateLimitCheck, type RateLimitContext, type RateLimiter, type RateLimiterOptions, type StoreFailurePolicy } from "../rate-limit/index.ts";
import type { RateLimitStore } from "../rate-limit/types.ts";

/**
 * The handler's rate-limit step: which limiter its options ask for, and what a check means for the
 * request (a 429 carrying the limits' fields, or the fields a 200 may carry).
 */

/** What a limit's `key` and `cost` functions are given. */
export interface HandlerRateLimitContext<U extends User = User> extends RateLimitContext {
  user: U;
  request: Request;
  /** The profile asked for, and its provider's name. */
  profile: string;
  provider: string;
}

/**
 * - a string such as `"10/1h"`: one limit named `user`, per signed-in user, fixed window;
 * - createRateLimiter's options, or a limiter to share between handlers;
 * - `false`: none.
 */
export type HandlerRateLimit<U extends User> = string | RateLimiterOptions<HandlerRateLimitContext<U>> | RateLimiter<HandlerRateLimitContext<U>> | false;

const LIMITER_OPTIONS = new Set(["limits", "store", "onStoreError", "storeTimeoutMs", "onStoreFailure", "now"]);

export interface RateLimitWiring<U extends User> {
  option: HandlerRateLimit<U> | undefined;
  /** The handler's store, used for the limits when it can hold them. */
  store: unknown;
  onStoreError: StoreFailurePolicy | undefined;
  logStoreFailure: (error: unknown, limit: string) => void;
}

export function rateLimiterFor<U extends User>(wiring: RateLimitWiring<U>): RateLimiter<HandlerRateLimitContext<U>> | undefined {
  const given = wiring.option === undefined ? {} : wiring.option;
  if (given === false) return undefined;
  if (given === null) throw new OptionError("rateLimit", "is null: pass false for no rate limit, or leave it out for the default (10 an hour per user)");
  if (typeof given === "string") {
    let short: { limit: number; windowMs: number };
    try {
      short = parseRateLimit(given);
    } catch (error) {
      throw new OptionError("rateLimit", (error as Error).message.replace(/^rate limit /, ""));
    }
    return rateLimiterFor({ ...wiring, option: { limits: [{ name: "user", ...short }] } });
  }
  if (typeof given !== "object" || given === null) throw new OptionError("rateLimit", 'must be a string like "10/1h", rate-limit options, a limiter, or false');
  if (typeof (given as RateLimiter<HandlerRateLimitContext<U>>).check === "function") return given as RateLimiter<HandlerRateLimitContext<U>>;
  // A misspelt or misplaced field would otherwise leave the default limit in force without a word.
  for (const key of Object.keys(given)) {
    if (!LIMITER_OPTIONS.has(key)) throw new OptionError(`rateLimit.${key}`, `is not an option; use ${[...LIMITER_OPTIONS].join(", ")} (limits: [{ name, limit, windowMs }]), or a string like "10/1h"`);
  }
  const options = given as RateLimiterOptions<HandlerRateLimitContext<U>>;
  if (Array.isArray(options.limits) && options.limits.length === 0) {
    throw new OptionError("rateLimit.limits", "is empty, which would limit nothing: pass rateLimit: false for no rate limit");
  }
  try {
    return createRateLimiter({
      ...options,
      store: options.store ?? (isRateLimitStore(wiring.store) ? wiring.store : undefined),
      onStoreError: options.onStoreError ?? wiring.onStoreError,
      onStoreFailure: (error, limit) => {
        options.onStoreFailure?.(error, limit);
        wiring.logStoreFailure(error, limit);
      },
    });
  } catch (error) {
    if (error instanceof RateLimitOptionError) throw new OptionError(`rateLimit.${error.option}`, error.problem);
    throw error instanceof TypeError ? new OptionError("rateLimit", error.message) : error;
  }
}

/**
 * The limits' verdict on a request: a 429, or the check that allowed it (which can give its units
 * back) and the fields a 200 carries (when asked for).
 */
export async function checkRateLimits<U extends User>(
  limiter: RateLimiter<HandlerRateLimitContext<U>> | undefined,
  context: HandlerRateLimitContext<U>,
  events: Partial<LifecycleEvent>,
  emit: EventEmitter,
  fieldsOnSuccess: boolean,
): Promise<{ check: RateLimitCheck; fields: Record<string, string> | undefined } | undefined> {
  if (!limiter) return undefined;
  const check = await limiter.check(context);
  if (check.allowed) {
    events.rateLimit = "allowed";
    return { check, fields: fieldsOnSuccess ? check.fields : undefined };
  }
  const refusal = check.decisions.find((decision) => !decision.allowed)!;
  emit("rate_limited", events, { status: 429, limit: refusal.name });
  throw new TollgateError("rate_limited", {
    detail: `Rate limit "${refusal.name}" reached; retry in ${refusal.retryAfter} s`,
    retryAfter: refusal.retryAfter,
    headers: check.fields,
  });
}

function isRateLimitStore(store: unknown): store is RateLimitStore {
  return typeof (store as Partial<RateLimitStore> | undefined)?.consume === "function";
}

/**
 * The usage route's own limit: reports per signed-in user, `"60/1m"` by default, or `false` for
 * none. Counted on the handler's store when it can hold rate limits, like the token limits, under
 * a name of its own (`usage`), so reports never use up a user's tokens.
 */
export function usageRateLimiterFor(option: string | false | undefined, wiring: Omit<RateLimitWiring<User>, "option">): RateLimiter | undefined {
  if (option === false) return undefined;
  if (option !== undefined && typeof option !== "string") throw new OptionError("usageRateLimit", 'must be a string like "60/1m", or false');
  let rule: { limit: number; windowMs: number };
  try {
    rule = parseRateLimit(option ?? "60/1m");
  } catch (error) {
    throw new OptionError("usageRateLimit", (error as Error).message.replace(/^rate limit /, ""));
  }
  return createRateLimiter({
    limits: [{ name: "usage", ...rule }],
    store: isRateLimitStore(wiring.store) ? wiring.store : undefined,
    onStoreError: wiring.onStoreError,
    onStoreFailure: wiring.logStoreFailure,
  });
}
