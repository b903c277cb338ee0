import { fingerprint, shortTag, userDigest } from "../canonical.ts";
import { TollgateError } from "../errors.ts";
import { eventEmitter, type EventEmitter, type EventListener, type LifecycleEvent } from "../lifecycle.ts";
import type { Profile } from "../profiles.ts";
import { defaultReuseMargin, tokenUseOf, type Provider, type TokenExtra } from "../provider.ts";
import { withFailurePolicy, type CacheFailurePolicy } from "../store/failure-policy.ts";
import { memoryCache } from "../store/memory-cache.ts";
import type { CacheStore } from "../store/types.ts";
import { claimedExpiry } from "../token-claims.ts";
import { activeSpanReference, linkActiveSpanTo, sessionOnActiveSpan } from "../telemetry/links.ts";
import { telemetryListener } from "../telemetry/listener.ts";
import { tollgateTracer, type TelemetryOptions } from "../telemetry/scope.ts";
import { recordKey, requestKeys, type RequestKeys } from "./keys.ts";
import { recordTtlMs, type ReusableToken, type TokenRecord } from "./records.ts";
import { SingleFlight } from "./single-flight.ts";
import { minterFor, type Minter } from "./upstream.ts";

/**
 * The issuer: given a profile and a user, a token. No HTTP here, so server actions and RPC can use
 * it directly. It hands a token out again while its use allows (a single-use token until its
 * session is reported started; a reusable one until its reuse margin), makes one upstream call for
 * many concurrent identical requests, and keeps a record of every token so that its client's
 * reports can be checked and counted.
 */

export interface TokenIssuerOptions extends TelemetryOptions {
  /** Where cached tokens and their records live. Default: a bounded in-memory store. */
  store?: CacheStore;
  /**
   * When the store fails: `closed` answers 503 (the default); `memory` carries on with a cache in
   * this process until the store is back.
   */
  onStoreError?: CacheFailurePolicy;
  /** Hears of every store failure, before the policy applies (for logs). */
  onStoreFailure?: (error: unknown) => void;
  /**
   * Hand out a token again while its use allows. `marginMs` overrides each provider's reuse margin
   * (by default the smaller of 10 minutes and a sixth of the token's lifetime). `false` mints a
   * fresh token for every request.
   */
  reuse?: { marginMs?: number } | false;
  /**
   * The longest session, in seconds, for profiles that set none: a token's record is kept this
   * long past its expiry, so that a session which outlives its token can still be ended. Default an hour.
   */
  maxSessionSeconds?: number;
  onEvent?: EventListener;
  /** The emitter to use, so that a handler and its issuer emit through one. Default: the issuer's own. */
  events?: EventEmitter;
}

export interface IssueRequest {
  profile: Profile;
  /** The user's id: part of the reuse key (hashed), so users never share a token. */
  userId: string;
  /** The browser tab asking: two tabs of one user never share a token. */
  clientId?: string;
  signal?: AbortSignal;
}

export interface IssuedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** What the provider's client needs besides the token. */
  extra?: TokenExtra;
  provider: string;
  profile: string;
  cacheHit: boolean;
}

export interface UsageReport {
  token: string;
  userId: string;
  event: "started" | "ended" | "failed";
  durationMs?: number;
  /** The provider's id of the session, as its client saw it. */
  sessionId?: string;
  /** Why a session failed, in the client's words; never put on telemetry as it is. */
  reason?: string;
}

export interface TokenInspection {
  /** Epoch milliseconds, from our record of it or the token's `exp` claim; undefined when unknown. */
  expiresAt: number | undefined;
  expired: boolean;
  /** Reported started (and so, when single-use, never handed out again). */
  started: boolean;
  ended: boolean;
  /** Whether this issuer's store holds a record of the token. */
  known: boolean;
}

export interface TokenIssuer {
  issue(request: IssueRequest): Promise<IssuedToken>;
  reportUsage(report: UsageReport): Promise<void>;
  inspectToken(token: string): Promise<TokenInspection>;
}

const DEFAULT_MAX_SESSION_SECONDS = 3600;

export function createTokenIssuer(options: TokenIssuerOptions = {}): TokenIssuer {
  // The embedded cache cannot fail, so it needs no failure policy around it.
  const store = options.store ? withFailurePolicy(options.store, options.onStoreError ?? "closed", options.onStoreFailure) : memoryCache();
  const reuse = options.reuse ?? {};
  const defaultMaxSessionMs = (options.maxSessionSeconds ?? DEFAULT_MAX_SESSION_SECONDS) * 1000;
  const emit = options.events ?? eventEmitter([telemetryListener(options), options.onEvent]);
  const tracer = tollgateTracer(options.tracerProvider);
  const minters = new WeakMap<Provider<unknown, unknown>, Minter>();
  const flights = new SingleFlight<IssuedToken>();

  function minterOf(provider: Provider<unknown, unknown>): Minter {
    let minter = minters.get(provider);
    if (!minter) {
      minter = minterFor(provider, tracer, emit);
      minters.set(provider, minter);
    }
    return minter;
  }

  function reuseMarginOf(provider: Provider<unknown, unknown>, lifetimeMs: number): number {
    if (reuse !== false && reuse.marginMs !== undefined) return reuse.marginMs;
    return provider.reuseMarginMs ? provider.reuseMarginMs(lifetimeMs) : defaultReuseMargin(lifetimeMs);
  }

  async function issue(request: IssueRequest): Promise<IssuedToken> {
    const { profile } = request;
    const keys = await requestKeys(profile, request.userId, request.clientId);
    const context: Partial<LifecycleEvent> = { provider: profile.provider.name, profile: profile.name, user: keys.user };

    if (reuse !== false) {
      const cached = await store.get<ReusableToken & { reuseUntil: number }>(keys.reuseKey);
      if (cached && cached.reuseUntil > Date.now()) {
        // Asked first: the token's fingerprint is worked out only for an event that someone hears.
        if (emit.heard()) emit("cache_hit", context, { token: await fingerprint(cached.token) });
        return { token: cached.token, expiresAt: cached.expiresAt, extra: cached.extra, provider: profile.provider.name, profile: profile.name, cacheHit: true };
      }
    }
    return flights.run(keys.reuseKey, (signal) => mintAndRemember(request, keys, context, signal), request.signal);
  }

  async function mintAndRemember(request: IssueRequest, keys: RequestKeys, context: Partial<LifecycleEvent>, signal: AbortSignal): Promise<IssuedToken> {
    const { profile } = request;
    const provider = profile.provider;
    const startedAt = Date.now();
    const minted = await minterOf(provider)(profile.config, { signal, user: { id: request.userId }, maxSessionSeconds: profile.maxSessionSeconds }, context);
    emit("minted", context, { token: await fingerprint(minted.token), durationMs: Date.now() - startedAt });

    const now = Date.now();
    const tokenUse = tokenUseOf(provider, profile.config);
    const record: TokenRecord = {
      owner: keys.owner,
      reuseKey: keys.reuseKey,
      provider: provider.name,
      profile: profile.name,
      tokenUse,
      expiresAt: minted.expiresAt,
      maxSessionMs: profile.maxSessionSeconds !== undefined ? profile.maxSessionSeconds * 1000 : defaultMaxSessionMs,
      mintedBy: activeSpanReference(),
    };
    // The record first, with its reuse entry linked to it, so that no store ever holds a reuse entry
    // for a token whose record is gone: its reports would be refused and a used token handed out again.
    await store.set(await recordKey(minted.token), record, recordTtlMs(record, now), keys.reuseKey);
    if (reuse !== false) {
      const reuseUntil = minted.expiresAt - reuseMarginOf(provider, minted.expiresAt - startedAt);
      if (reuseUntil > now) {
        const entry: ReusableToken & { reuseUntil: number } = { token: minted.token, expiresAt: minted.expiresAt, extra: minted.extra, reuseUntil };
        await store.set(keys.reuseKey, entry, reuseUntil - now);
      }
    }
    return { token: minted.token, expiresAt: minted.expiresAt, extra: minted.extra, provider: provider.name, profile: profile.name, cacheHit: false };
  }

  async function reportUsage(report: UsageReport): Promise<void> {
    const key = await recordKey(report.token);
    const record = await store.get<TokenRecord>(key);
    if (!record) throw new TollgateError("token_not_found");
    if (record.owner !== (await userDigest(report.userId))) throw new TollgateError("token_not_owned");
    linkActiveSpanTo(record.mintedBy);
    sessionOnActiveSpan(report.sessionId ?? record.sessionId);
    const fields: Partial<LifecycleEvent> = { provider: record.provider, profile: record.profile, user: shortTag(record.owner), token: await fingerprint(report.token) };

    // Reports are idempotent: each step of a token's life counts once, however often it is told.
    const next: TokenRecord = { ...record };
    const changes: Array<() => void> = [];
    const start = () => {
      if (next.started) return;
      next.started = true;
      if (report.sessionId) next.sessionId = report.sessionId;
      changes.push(() => emit("started", fields));
    };
    // A session that started and then failed has ended; `failed` before a start means the provider refused the token.
    const ending = report.event === "ended" || (report.event === "failed" && record.started);
    if (report.event === "started" && !record.ended && !record.failed) start();
    if (ending && !record.ended) {
      // An end implies a start, even when the start was never reported.
      start();
      next.ended = true;
      changes.push(() => emit("ended", fields, { durationMs: report.durationMs }));
    }
    if (report.event === "failed" && !record.started && !record.failed) {
      next.failed = true;
      changes.push(() => emit("session_failed", fields));
    }
    if (changes.length === 0) return;

    // A single-use token that started, and any token that failed, is never handed out again.
    const evict = (next.started && !record.started && record.tokenUse === "single-use") || (next.failed && !record.failed);
    if (evict) await store.delete(record.reuseKey);
    await store.set(key, next, recordTtlMs(next, Date.now()), record.reuseKey);
    if (evict) emit("evicted", fields, { reason: next.failed ? "failed" : "started" });
    for (const change of changes) change();
  }

  async function inspectToken(token: string): Promise<TokenInspection> {
    const record = await store.get<TokenRecord>(await recordKey(token));
    const expiresAt = record?.expiresAt ?? claimedExpiry(token);
    return {
      expiresAt,
      expired: expiresAt !== undefined && expiresAt <= Date.now(),
      started: record?.started ?? false,
      ended: record?.ended ?? false,
      known: record !== undefined,
    };
  }

  return { issue, reportUsage, inspectToken };
}
