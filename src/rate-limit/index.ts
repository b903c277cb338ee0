/**
 * createRateLimiter: several named limits checked in order against one store, with a policy for
 * when the store cannot answer.
 *
 *   const limiter = createRateLimiter({
 *     limits: [
 *       { name: "user", limit: 10, windowMs: 3_600_000 },                        // per signed-in user
 *       { name: "global", limit: 1_000, windowMs: 86_400_000, key: () => "all" }, // the organisation's bill
 *     ],
 *     store: redisStore({ client }),
 *     onStoreError: "closed",
 *   });
 *   const { allowed, headers } = await limiter.check({ user });
 */
import { andThen, sha256Hex, type MaybePromise } from "../canonical.ts";
import { assertValidRule, RATE_LIMIT_ALGORITHMS } from "./algorithms.ts";
import { StoreUnavailableError } from "./errors.ts";
import { fieldsWithPolicy, policyItem } from "./headers.ts";
import { memoryRateLimitStore } from "./memory-store.ts";
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "./types.ts";

export type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "./types.ts";
export { memoryRateLimitStore, type MemoryRateLimitStoreOptions } from "./memory-store.ts";
export { rateLimitFields, rateLimitHeaders } from "./headers.ts";
export { parseRateLimit } from "./parse.ts";
export { StoreUnavailableError } from "./errors.ts";

/** What a limit's key and cost are computed from: the request's signed-in user, at least. */
export interface RateLimitContext {
  user: { id: string };
  request?: Request;
  profile?: string;
}

export interface NamedRateLimit<C extends RateLimitContext = RateLimitContext> {
  /** Names the limit in headers, events and store keys: letters, digits, `_`, `-`, `.`; at most 64. */
  name: string;
  /** Default `fixed-window`. */
  algorithm?: RateLimitAlgorithm;
  limit: number;
  windowMs: number;
  /** Units one request uses; default 1. A function may price requests differently (per persona, say). */
  cost?: number | ((context: C) => number);
  /**
   * Who the limit counts for. Default: the signed-in user's id. A constant makes a global quota;
   * null or undefined exempts the request from this limit. The value is hashed before it reaches a
   * store, so a raw user id never becomes a key.
   */
  key?: (context: C) => string | null | undefined;
}

/**
 * When the store fails or does not answer within `storeTimeoutMs`:
 * - `closed` refuses the request with 503 `store_unavailable` (never a 429);
 * - `open` lets it through unlimited;
 * - `memory` decides on an in-process memory store until the shared one answers again.
 * Every decision tries the shared store first, so service returns to normal as soon as it is back.
 */
export type StoreFailurePolicy = "closed" | "open" | "memory";

export interface RateLimiterOptions<C extends RateLimitContext = RateLimitContext> {
  /** Default: one limit named `user`, 10 an hour per user, fixed window. */
  limits?: ReadonlyArray<NamedRateLimit<C>>;
  /** Default: a memory store for this process. */
  store?: RateLimitStore;
  /** Default `closed`. */
  onStoreError?: StoreFailurePolicy;
  /** Longest wait for one store decision, in ms. Default 1 000. */
  storeTimeoutMs?: number;
  /** Told of every store failure, before the policy applies (for logs and metrics). */
  onStoreFailure?: (error: unknown, limit: string) => void;
  /** Clock in epoch ms, used for the headers' `t`. Default `Date.now`. */
  now?: () => number;
}

export interface LimitDecision extends RateLimitDecision {
  name: string;
}

export interface RateLimitCheck {
  allowed: boolean;
  /** One per limit decided, in order. Limits after a refusal are not consumed and not listed. */
  decisions: LimitDecision[];
  /** `RateLimit`, `RateLimit-Policy`, and `Retry-After` when refused. */
  readonly headers: Headers;
  /** The same fields as a plain record, to put into a response's own headers. */
  readonly fields: Record<string, string>;
  /** The limit that refused the request. */
  refusedBy?: string;
  /** Set when the store failed and the `open` or `memory` policy decided instead. */
  degraded?: "open" | "memory";
  /**
   * Gives back every unit this check took, to the store that decided it, for a request that then
   * handed out nothing (its mint failed upstream); a refused check has given its units back
   * already. Once only: later calls do nothing. It never rejects: a store that cannot take the
   * units back is told to `onStoreFailure`, and they stay counted.
   */
  refund(): Promise<void>;
}

export interface RateLimiter<C extends RateLimitContext = RateLimitContext> {
  /**
   * Consumes each limit in order, stopping at the first refusal so that one user's refused requests
   * do not drain a global quota after it. Throws StoreUnavailableError under the `closed` policy.
   */
  check(context: C): Promise<RateLimitCheck>;
  readonly limits: ReadonlyArray<Readonly<NamedRateLimit<C>>>;
}

export const DEFAULT_RATE_LIMIT: Readonly<NamedRateLimit> = Object.freeze({ name: "user", algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 });

const LIMIT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const POLICIES: readonly StoreFailurePolicy[] = ["closed", "open", "memory"];

interface CompiledLimit<C> {
  name: string;
  rule: RateLimitRule;
  /** Its item in `RateLimit-Policy`, made once. */
  policyItem: string;
  cost: (context: C) => number;
  key: (context: C) => string | null | undefined;
}

/**
 * A limiter option that cannot work. `option` names it as it sits in the options
 * (`limits[0].windowMs`), so that a handler taking these options under a name of its own can say
 * `rateLimit.limits[0].windowMs`.
 */
export class RateLimitOptionError extends TypeError {
  constructor(
    readonly option: string,
    readonly problem: string,
    message = `rate limit: ${option} ${problem}`,
  ) {
    super(message);
    this.name = "RateLimitOptionError";
  }
}

const LIMIT_FIELDS = ["name", "algorithm", "limit", "windowMs", "cost", "key"];

function compileLimit<C extends RateLimitContext>(limit: NamedRateLimit<C>, index: number): CompiledLimit<C> {
  const at = `limits[${index}]`;
  if (typeof limit !== "object" || limit === null) throw new RateLimitOptionError(at, "must be a limit, like { name: \"user\", limit: 10, windowMs: 3_600_000 }");
  // A misspelt field (`window` for `windowMs`) would otherwise be ignored, or fail as another one missing.
  for (const field of Object.keys(limit)) {
    if (LIMIT_FIELDS.includes(field)) continue;
    const near = field.length >= 3 ? LIMIT_FIELDS.find((known) => known.toLowerCase().startsWith(field.toLowerCase()) || field.toLowerCase().startsWith(known.toLowerCase())) : undefined;
    throw new RateLimitOptionError(`${at}.${field}`, `is not a field of a limit; use ${LIMIT_FIELDS.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`);
  }
  if (typeof limit.name !== "string" || !LIMIT_NAME.test(limit.name)) {
    throw new RateLimitOptionError(`${at}.name`, `must be 1-64 letters, digits, "_", "-" or ".", got ${JSON.stringify(limit.name)}`);
  }
  // Each problem below is said under the limit's name, and named by its place for a handler.
  const fail = (field: string, problem: string) => new RateLimitOptionError(`${at}.${field}`, problem, `rate limit "${limit.name}": ${field} ${problem}`);
  const rule: RateLimitRule = { algorithm: limit.algorithm ?? "fixed-window", limit: limit.limit, windowMs: limit.windowMs };
  if (!RATE_LIMIT_ALGORITHMS.includes(rule.algorithm)) {
    const known = RATE_LIMIT_ALGORITHMS.join(", ");
    throw new RateLimitOptionError(`${at}.algorithm`, `must be one of ${known}, got ${JSON.stringify(rule.algorithm)}`, `rate limit "${limit.name}": unknown algorithm ${JSON.stringify(rule.algorithm)}; use one of ${known}`);
  }
  if (!Number.isSafeInteger(rule.limit) || rule.limit < 1) throw fail("limit", `must be a positive integer, got ${String(rule.limit)}`);
  if (!Number.isSafeInteger(rule.windowMs) || rule.windowMs < 1) throw fail("windowMs", `must be a positive integer (milliseconds), got ${String(rule.windowMs)}`);
  if (limit.cost !== undefined && typeof limit.cost !== "function" && (!Number.isSafeInteger(limit.cost) || limit.cost < 1 || limit.cost > rule.limit)) {
    throw fail("cost", `must be an integer from 1 to the limit (${rule.limit}), or a function, got ${String(limit.cost)}`);
  }
  if (limit.key !== undefined && typeof limit.key !== "function") throw fail("key", "must be a function from the context to a string, null or undefined");
  const fixedCost = typeof limit.cost === "number" ? limit.cost : 1;
  try {
    assertValidRule(rule, fixedCost);
  } catch (error) {
    throw new RateLimitOptionError(at, (error as Error).message.replace(/^rate limit: /, ""), `rate limit "${limit.name}": ${(error as Error).message.replace(/^rate limit: /, "")}`);
  }
  const cost = typeof limit.cost === "function" ? limit.cost : () => fixedCost;
  const key = limit.key ?? ((context: C) => userIdOf(context, limit.name));
  return { name: limit.name, rule, policyItem: policyItem(limit.name, rule.limit, rule.windowMs), cost, key };
}

/** The default key: the signed-in user's id, or an error that says what is missing. */
function userIdOf(context: RateLimitContext, limitName: string): string {
  const id = (context as Partial<RateLimitContext> | undefined)?.user?.id;
  if (typeof id !== "string" || id === "") {
    throw new TypeError(`rate limit "${limitName}": the context has no user id; pass { user: { id } } or give the limit a key()`);
  }
  return id;
}

/**
 * The key a limit counts `keyValue` under in the store: the limit's name and the first 128 bits of
 * the value's SHA-256, so that store keys never hold a raw user id. A returning user's digest is
 * remembered by `sha256Hex`, and then comes back at once.
 */
function storeKeyOf<C>(limit: CompiledLimit<C>, keyValue: string): MaybePromise<string> {
  return andThen(sha256Hex(keyValue), (hex) => `${limit.name}:${hex.slice(0, 32)}`);
}

/** Units a check took from one limit, and the store that counted them, so that they can be given back. */
interface Taken<C> {
  limit: CompiledLimit<C>;
  key: string;
  cost: number;
  decision: RateLimitDecision;
  decidedBy: RateLimitStore;
}

class StoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`rate-limit store did not answer within ${ms} ms`);
    this.name = "StoreTimeoutError";
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A check's result. Its header fields are made on first use: a handler needs them for a refusal,
 * and for an allowed request only when it puts them on its 200, which it does not by default.
 */
class Check implements RateLimitCheck {
  readonly allowed: boolean;
  #fields: Record<string, string> | undefined;
  #headers: Headers | undefined;
  #giveBack: (() => Promise<void>) | undefined;

  constructor(
    /** What gives back the units this check took; undefined when it took none. */
    giveBack: (() => Promise<void>) | undefined,
    readonly decisions: LimitDecision[],
    /** `RateLimit-Policy`, or undefined when no limit decided. */
    private readonly policyField: string | undefined,
    /** When the decisions were made, for the fields' `t`. */
    private readonly decidedAt: number,
    readonly refusedBy?: string,
    readonly degraded?: "open" | "memory",
  ) {
    this.allowed = refusedBy === undefined;
    this.#giveBack = giveBack;
  }

  refund(): Promise<void> {
    const giveBack = this.#giveBack;
    this.#giveBack = undefined;
    return giveBack ? giveBack() : Promise.resolve();
  }

  get fields(): Record<string, string> {
    return (this.#fields ??= this.policyField === undefined ? {} : fieldsWithPolicy(this.policyField, this.decisions, this.decidedAt));
  }

  get headers(): Headers {
    return (this.#headers ??= new Headers(this.fields));
  }
}

export function createRateLimiter<C extends RateLimitContext = RateLimitContext>(options: RateLimiterOptions<C> = {}): RateLimiter<C> {
  const given = options.limits ?? [DEFAULT_RATE_LIMIT];
  if (!Array.isArray(given)) throw new RateLimitOptionError("limits", 'must be a list of limits, like [{ name: "user", limit: 10, windowMs: 3_600_000 }]');
  // A limiter with no limit would let every request through while looking like one.
  if (given.length === 0) throw new RateLimitOptionError("limits", "is empty: a limiter needs at least one limit");
  const limits = given.map((limit, index) => compileLimit(limit as NamedRateLimit<C>, index));
  // What `RateLimit-Policy` says when every limit took part, as on nearly every request.
  const everyPolicy = limits.map((limit) => limit.policyItem).join(", ");
  const policyItems = new Map(limits.map((limit) => [limit.name, limit.policyItem]));
  if (policyItems.size !== limits.length) {
    const index = limits.findIndex((limit, i) => limits.findIndex((other) => other.name === limit.name) !== i);
    throw new RateLimitOptionError(`limits[${index}].name`, `is ${JSON.stringify(limits[index]!.name)}, as another limit's: two limits share a name`);
  }
  const policy = options.onStoreError ?? "closed";
  if (!POLICIES.includes(policy)) throw new RateLimitOptionError("onStoreError", `must be one of ${POLICIES.join(", ")}`);
  const storeTimeoutMs = options.storeTimeoutMs ?? 1_000;
  if (!(storeTimeoutMs > 0) || !Number.isFinite(storeTimeoutMs)) throw new RateLimitOptionError("storeTimeoutMs", "must be a positive number of milliseconds");
  const store = options.store ?? memoryRateLimitStore();
  const now = options.now ?? Date.now;
  let fallback: RateLimitStore | undefined;

  /** The store's decision, waited for no longer than `storeTimeoutMs` when the store is elsewhere. */
  function consume(limit: CompiledLimit<C>, key: string, cost: number): Promise<RateLimitDecision> {
    const decision = store.consume(key, limit.rule, cost);
    return store.inProcess ? decision : withTimeout(decision, storeTimeoutMs);
  }

  function reportFailure(error: unknown, limit: string) {
    try {
      options.onStoreFailure?.(error, limit);
    } catch {
      // Reporting a failure must not change the answer the policy gives.
    }
  }

  /** Gives back what `taken` took, each to the store that decided it; a failure is reported, not thrown. */
  async function giveBack(taken: Taken<C>[]): Promise<void> {
    await Promise.all(
      taken.map(async ({ limit, key, cost, decision, decidedBy }) => {
        if (!decidedBy.refund) return;
        try {
          const given = decidedBy.refund(key, limit.rule, cost, decision);
          await (decidedBy.inProcess ? given : withTimeout(given, storeTimeoutMs));
        } catch (error) {
          reportFailure(error, limit.name);
        }
      }),
    );
  }

  /** What the policy decides instead when the store failed: a decision in memory, none, or a 503. */
  async function decideWithoutStore(limit: CompiledLimit<C>, key: string, cost: number, error: unknown): Promise<{ decision?: RateLimitDecision; degraded: "open" | "memory" }> {
    reportFailure(error, limit.name);
    if (policy === "open") return { degraded: "open" };
    if (policy === "memory") {
      fallback ??= memoryRateLimitStore();
      return { decision: await fallback.consume(key, limit.rule, cost), degraded: "memory" };
    }
    throw new StoreUnavailableError(error);
  }

  return {
    limits: options.limits ?? [DEFAULT_RATE_LIMIT as NamedRateLimit<C>],
    async check(context) {
      const decisions: LimitDecision[] = [];
      const taken: Taken<C>[] = [];
      let degraded: "open" | "memory" | undefined;
      let refusedBy: string | undefined;
      for (const limit of limits) {
        const keyValue = limit.key(context);
        if (keyValue === null || keyValue === undefined) continue;
        if (typeof keyValue !== "string") throw new TypeError(`rate limit "${limit.name}": key() must return a string, null or undefined`);
        const cost = limit.cost(context);
        if (!Number.isSafeInteger(cost) || cost < 1 || cost > limit.rule.limit) {
          throw new TypeError(`rate limit "${limit.name}": cost() must return an integer from 1 to ${limit.rule.limit}`);
        }
        const storeKey = storeKeyOf(limit, keyValue);
        const key = typeof storeKey === "string" ? storeKey : await storeKey;
        // Awaited here rather than in a helper of its own: every allowed request passes this way,
        // and each async frame is a promise the garbage collector must clear.
        let decision: RateLimitDecision | undefined;
        let decidedBy = store;
        try {
          decision = await consume(limit, key, cost);
        } catch (error) {
          const instead = await decideWithoutStore(limit, key, cost, error);
          degraded = instead.degraded;
          decision = instead.decision;
          decidedBy = fallback!;
        }
        if (!decision) continue;
        const { allowed, remaining, resetAt, retryAfter } = decision;
        decisions.push({ name: limit.name, allowed, limit: decision.limit, remaining, resetAt, retryAfter });
        if (allowed) taken.push({ limit, key, cost, decision, decidedBy });
        if (!allowed) {
          refusedBy = limit.name;
          break;
        }
      }
      const decidedAt = now();
      if (refusedBy !== undefined && taken.length > 0) {
        // A refused request is handed nothing, so the limits before the one that refused it give
        // back what they took. Their fields still say what they decided, which is never more
        // than the request may really have.
        await giveBack(taken);
        taken.length = 0;
      }
      const refund = taken.length > 0 ? () => giveBack(taken) : undefined;
      if (decisions.length === 0) return new Check(refund, decisions, undefined, decidedAt, refusedBy, degraded);
      const policyField = decisions.length === limits.length ? everyPolicy : decisions.map((decision) => policyItems.get(decision.name)).join(", ");
      return new Check(refund, decisions, policyField, decidedAt, refusedBy, degraded);
    },
  };
}
