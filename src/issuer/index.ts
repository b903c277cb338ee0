import { canonicalJson, fingerprint, frozenDataCopy, isDeeplyFrozen, sha256Hex, shortTag, userDigest, type MaybePromise } from "./canonical.ts";
import { TollgateError } from "./errors.ts";
import { claimedExpiry } from "./token-claims.ts";
import { eventEmitter, type EventListener, type LifecycleEvent } from "./lifecycle.ts";
import type { Provider } from "./provider.ts";
import { RetriesExhausted, RetryBudget, resolveRetryOptions, withRetries, type ResolvedRetryOptions } from "./retry.ts";
import { withFailurePolicy, type CacheFailurePolicy } from "./store/failure-policy.ts";
import { memoryCache } from "./store/memory-cache.ts";
import type { CacheStore } from "./store/types.ts";
import { tracedMint } from "./telemetry/attempt-span.ts";
import { telemetryListener } from "./telemetry/listener.ts";
import { tollgateTracer, type TelemetryOptions } from "./telemetry/scope.ts";

/**
 * The issuer: given a user and a persona config, a token. No HTTP here, so server actions and RPC
 * can use it directly. It reuses a token the user already holds and has not started a session with,
 * makes one upstream call for many concurrent identical requests, and retries the upstream within
 * the provider's policy.
 */

export interface TokenIssuerOptions<Config> extends TelemetryOptions {
  provider: Provider<Config> & { readonly retry?: ResolvedRetryOptions };
  /** Where cached tokens and usage records live. Default: a bounded in-memory store. */
  store?: CacheStore;
  /**
   * When the store fails: `closed` answers 503 (the default); `memory` carries on with a cache in
   * this process until the store is back.
   */
  onStoreError?: CacheFailurePolicy;
  /** Hears of every store failure, before the policy applies (for logs). */
  onStoreFailure?: (error: unknown) => void;
  /**
   * Reuse a token for the same provider, config and user until it is reported used or this close
   * to expiry. Default 10 minutes. `false` mints a fresh token for every request.
   */
  reuse?: { marginMs?: number } | false;
  onEvent?: EventListener;
}

export interface IssueRequest {
  /** The persona config; the provider checks it before any upstream call. */
  config: unknown;
  /** The user's id: part of the cache key (hashed), so users never share a token. */
  userId: string;
  /** For telemetry only. */
  personaType?: string;
  signal?: AbortSignal;
}

export interface IssuedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  cacheHit: boolean;
}

export interface UsageReport {
  token: string;
  userId: string;
  event: "started" | "ended";
  durationMs?: number;
}

export interface TokenInspection {
  /** Epoch milliseconds, from the token's `exp` claim or our record of it; undefined when unknown. */
  expiresAt: number | undefined;
  expired: boolean;
  /** Reported used through the usage route (and so never handed out again). */
  used: boolean;
  /** Whether this issuer's store holds a record of the token. */
  known: boolean;
}

export interface TokenIssuer {
  issue(request: IssueRequest): Promise<IssuedToken>;
  reportUsage(report: UsageReport): Promise<void>;
  inspectToken(token: string): Promise<TokenInspection>;
  readonly provider: Provider<unknown>;
}

/** A persona config as the provider checked it, with its canonical JSON. */
interface CheckedConfig<Config> {
  config: Config;
  canonical: string;
  /** For a config that can never change: its users' keys, so a returning user costs one lookup. */
  keysByUser?: Map<string, RequestKeys>;
}

/** Where a request for one user and config is found in the store, and how telemetry names its user. */
interface RequestKeys {
  /** The digest of the user id that token records hold. */
  owner: string;
  /** The short tag events carry. */
  user: string;
  reuseKey: string;
}

/** Users whose keys are remembered per config; past it the longest-remembered is forgotten first. */
const MAX_REMEMBERED_USERS = 10_000;

/** What the reuse cache holds under a request's key. */
interface ReusableToken {
  token: string;
  expiresAt: number;
}

/** What we remember of every token we issued, under the token's hash. */
interface TokenRecord {
  owner: string;
  reuseKey: string;
  expiresAt: number;
  used: boolean;
  /** Reported ended: a second report must not end the session twice in the metrics. */
  ended?: boolean;
}

const DEFAULT_REUSE_MARGIN_MS = 10 * 60 * 1000;
const KEY_PREFIX = "tollgate:";

export function createTokenIssuer<Config>(options: TokenIssuerOptions<Config>): TokenIssuer {
  const { provider } = options;
  // The embedded cache cannot fail, so it needs no failure policy around it (nor its cost per call).
  const store = options.store ? withFailurePolicy(options.store, options.onStoreError ?? "closed", options.onStoreFailure) : memoryCache();
  const reuseMarginMs = options.reuse === false ? undefined : (options.reuse?.marginMs ?? DEFAULT_REUSE_MARGIN_MS);
  const retry = provider.retry ?? resolveRetryOptions();
  const budget = new RetryBudget(retry.budgetRatio, retry.budgetMinRetries);
  const event = eventEmitter(provider.name, [telemetryListener(options), options.onEvent]);
  const mintAttempt = tracedMint(provider, tollgateTracer(options.tracerProvider));
  const flights = new Map<string, Flight<IssuedToken>>();
  // Configs that can never change (deeply frozen, as the handler makes its persona map's), checked
  // and serialised once. Any other config is checked on every request: it may have changed since.
  const checkedConfigs = new WeakMap<object, CheckedConfig<Config>>();
  const providerJson = canonicalJson(provider.name);

  function checkConfig(input: unknown): CheckedConfig<Config> {
    const known = typeof input === "object" && input !== null ? checkedConfigs.get(input) : undefined;
    if (known) return known;
    const config = provider.parseConfig(input);
    const canonical = canonicalJson(config);
    if (typeof input === "object" && input !== null && isDeeplyFrozen(input)) {
      // What is remembered is frozen as well, so no request can change what the next one gets.
      const frozen = frozenDataCopy(config) as Config | undefined;
      if (frozen !== undefined) {
        const checked = { config: frozen, canonical, keysByUser: new Map() };
        checkedConfigs.set(input, checked);
        return checked;
      }
    }
    return { config, canonical };
  }

  /**
   * The digest of the canonical JSON of { provider, config, user }, the reuse cache's key. The
   * text is put together from the config's canonical JSON (keys in the sorted order RFC 8785
   * gives them), which is the same text as canonicalising the whole object, without serialising
   * the config again.
   */
  function reuseKeyOf(checked: CheckedConfig<Config>, userId: string): MaybePromise<string> {
    return sha256Hex(`{"config":${checked.canonical},"provider":${providerJson},"user":${canonicalJson(userId)}}`);
  }

  async function keysOf(checked: CheckedConfig<Config>, userId: string): Promise<RequestKeys> {
    const owner = await userDigest(userId);
    return { owner, user: shortTag(owner), reuseKey: `${KEY_PREFIX}reuse:${await reuseKeyOf(checked, userId)}` };
  }

  /** The request's keys: remembered for a config that can never change, else worked out anew. */
  function requestKeys(checked: CheckedConfig<Config>, userId: string): MaybePromise<RequestKeys> {
    const remembered = checked.keysByUser;
    if (!remembered) return keysOf(checked, userId);
    const known = remembered.get(userId);
    if (known) return known;
    return keysOf(checked, userId).then((keys) => {
      if (remembered.size >= MAX_REMEMBERED_USERS) remembered.delete(remembered.keys().next().value!);
      remembered.set(userId, keys);
      return keys;
    });
  }

  async function issue(request: IssueRequest): Promise<IssuedToken> {
    const checked = checkConfig(request.config);
    const config = checked.config;
    const { owner, user, reuseKey } = await requestKeys(checked, request.userId);

    if (reuseMarginMs !== undefined) {
      const cached = await store.get<ReusableToken>(reuseKey);
      if (cached && cached.expiresAt - reuseMarginMs > Date.now()) {
        // Asked first: the token's fingerprint is worked out only for an event that someone hears.
        if (event.heard()) event("cache_hit", { personaType: request.personaType, user, token: await fingerprint(cached.token) });
        return { token: cached.token, expiresAt: cached.expiresAt, cacheHit: true };
      }
    }
    const context = { personaType: request.personaType, user };

    // Concurrent requests for one key share one upstream call.
    let flight = flights.get(reuseKey);
    if (!flight) {
      flight = new Flight((signal) => mintAndRemember(config, owner, reuseKey, context, signal));
      flights.set(reuseKey, flight);
      const forget = () => flights.delete(reuseKey);
      flight.settled.then(forget, forget);
    }
    return flight.join(request.signal);
  }

  async function mintAndRemember(config: Config, owner: string, reuseKey: string, context: Partial<LifecycleEvent>, signal: AbortSignal): Promise<IssuedToken> {
    const started = Date.now();
    let minted;
    try {
      minted = await withRetries(
        (attemptSignal, attempt) => mintAttempt({ config, signal: attemptSignal }, attempt),
        (error) => provider.classify(error),
        retry,
        budget,
        signal,
        {
          onAttempt: (attempt) => event("minting", context, { attempt }),
          onRetry: ({ attempt, delayMs, error }) => event("retried", context, { attempt, delayMs, errorType: provider.classify(error).errorType }),
        },
      );
    } catch (error) {
      throw upstreamFailure(error);
    }
    const token = minted.token;
    event("minted", context, { token: await fingerprint(token), durationMs: Date.now() - started });

    const now = Date.now();
    const record: TokenRecord = { owner, reuseKey, expiresAt: minted.expiresAt, used: false };
    const tokenKey = await recordKey(token);
    await store.set(tokenKey, record, Math.max(1, minted.expiresAt - now));
    if (reuseMarginMs !== undefined && minted.expiresAt - reuseMarginMs > now) {
      await store.set(reuseKey, { token, expiresAt: minted.expiresAt } satisfies ReusableToken, minted.expiresAt - reuseMarginMs - now);
    }
    return { token, expiresAt: minted.expiresAt, cacheHit: false };
  }

  /** Turns what the retry loop gave up with into the error the client sees. */
  function upstreamFailure(error: unknown): TollgateError {
    if (!(error instanceof RetriesExhausted)) return new TollgateError("internal", { cause: error });
    if (error.deadlineExceeded) return new TollgateError("upstream_timeout", { cause: error.lastError });
    const { retryable, errorType } = provider.classify(error.lastError);
    const retryAfter = error.retryAfterMs !== undefined ? Math.ceil(error.retryAfterMs / 1000) : 5;
    if (errorType === "timeout") return new TollgateError("upstream_timeout", { cause: error.lastError });
    if (errorType === "invalid_response") return new TollgateError("upstream_invalid_response", { cause: error.lastError });
    if (retryable) return new TollgateError("upstream_unavailable", { retryAfter, cause: error.lastError });
    return new TollgateError("upstream_rejected", { cause: error.lastError });
  }

  async function findRecord(token: string) {
    const key = await recordKey(token);
    return store.get<TokenRecord>(key);
  }

  async function reportUsage(report: UsageReport): Promise<void> {
    const record = await findRecord(report.token);
    if (!record) throw new TollgateError("token_not_found");
    if (record.owner !== (await userDigest(report.userId))) throw new TollgateError("token_not_owned");
    const fields = { user: shortTag(record.owner), token: await fingerprint(report.token) };

    const ending = report.event === "ended" && !record.ended;
    if (!record.used) {
      // Single-use: once a session starts with this token, nobody may be handed it again.
      await store.delete(record.reuseKey);
    }
    if (!record.used || ending) {
      const tokenKey = await recordKey(report.token);
      await store.set(tokenKey, { ...record, used: true, ended: record.ended || ending }, Math.max(1, record.expiresAt - Date.now()));
    }
    if (!record.used) {
      event("evicted", fields, { reason: "used" });
      event("used", fields);
    }
    if (ending) event("ended", fields, { durationMs: report.durationMs });
  }

  async function inspectToken(token: string): Promise<TokenInspection> {
    const record = await findRecord(token);
    const expiresAt = record?.expiresAt ?? claimedExpiry(token);
    return {
      expiresAt,
      expired: expiresAt !== undefined && expiresAt <= Date.now(),
      used: record?.used ?? false,
      known: record !== undefined,
    };
  }

  return { issue, reportUsage, inspectToken, provider: provider as Provider<unknown> };
}

async function recordKey(token: string): Promise<string> {
  return `${KEY_PREFIX}token:${await sha256Hex(token)}`;
}

/**
 * One upstream call shared by every request that joins it. Each caller may stop waiting through
 * its own signal; the call itself is aborted only when every caller has gone.
 */
class Flight<T> {
  readonly settled: Promise<T>;
  private readonly controller = new AbortController();
  private waiting = 0;

  constructor(run: (signal: AbortSignal) => Promise<T>) {
    this.settled = run(this.controller.signal);
    // Callers who left must not see an unhandled rejection.
    this.settled.catch(() => {});
  }

  join(signal: AbortSignal | undefined): Promise<T> {
    signal?.throwIfAborted();
    this.waiting++;
    // A caller without a signal never leaves, so the call runs to its end for them.
    if (!signal) return this.settled;
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        this.waiting--;
        if (this.waiting === 0) this.controller.abort(signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener("abort", leave, { once: true });
      this.settled.then(resolve, reject).finally(() => signal.removeEventListener("abort", leave));
    });
  }
}
