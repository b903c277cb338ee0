import { fingerprint, shortTag, userDigest } from "../canonical.ts";
import { OptionError, TollgateError } from "../errors.ts";
import { eventEmitter, type EventEmitter, type EventListener, type LifecycleEvent } from "../lifecycle.ts";
import { consoleLogger, type Logger } from "../log.ts";
import { sessionCeiling, type Profile } from "../profiles.ts";
import { DEFAULT_MAX_SESSION_SECONDS, defaultReuseMargin, tokenUseOf, type Provider, type TokenExtra } from "../provider.ts";
import { sessionLeases, type SessionLeases, type SessionOptions } from "../sessions/leases.ts";
import { isFlightLockStore, type FlightLockStore } from "../sessions/types.ts";
import { getDependent } from "../store/dependent.ts";
import { withFailurePolicy, type CacheFailurePolicy } from "../store/failure-policy.ts";
import { memoryCache } from "../store/memory-cache.ts";
import type { CacheStore } from "../store/types.ts";
import { claimedExpiry } from "../token-claims.ts";
import { activeSpanReference, linkActiveSpanTo, sessionOnActiveSpan } from "../telemetry/links.ts";
import { telemetryListener } from "../telemetry/listener.ts";
import { observeActiveLeases } from "../telemetry/metrics.ts";
import { tollgateMeter, tollgateTracer, type TelemetryOptions } from "../telemetry/scope.ts";
import { fleetFlight } from "./fleet-flight.ts";
import { recordKey, requestKeys, type RequestKeys } from "./keys.ts";
import { recordTtlMs, type ReusableToken, type TokenRecord } from "./records.ts";
import { SingleFlight } from "./single-flight.ts";
import { applyReport } from "./usage.ts";
import { minterFor, type Minter } from "./upstream.ts";
import { bodyCap, maxTokenBytes, type UsageEvent } from "../wire.ts";

/**
 * The issuer: given a profile and a user, a token. No HTTP here, so server actions and RPC can use
 * it directly. It hands a token out again while its use allows (a single-use token until its
 * session is reported started; a reusable one until its reuse margin), makes one upstream call for
 * many concurrent identical requests (across the fleet, when the store holds locks), and keeps a
 * record of every token so that its client's reports can be checked and counted. With `sessions`,
 * a fresh token takes one of the user's session leases first (src/sessions/).
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
   * Hand out a token again while its use allows. `marginMs` (0 or more) overrides each provider's
   * reuse margin (by default the smaller of 10 minutes and a sixth of the token's lifetime). `false`
   * mints a fresh token for every request. Tokens are keyed by provider instance, config, session
   * ceiling, user and browser tab.
   */
  reuse?: { marginMs?: number } | false;
  /**
   * The longest session, in seconds, for profiles that set none: sent to providers that can enforce
   * it, and a token's record is kept this long past its expiry, so that a session which outlives
   * its token can still be ended. Default an hour.
   */
  maxSessionSeconds?: number;
  /**
   * Session leases: at most `maxPerUser` fresh tokens per user that may still become, or are,
   * sessions; held on `store` when it can hold leases, otherwise in this process. Default: none.
   */
  sessions?: SessionOptions;
  /** The profiles whose live leases the `tollgate.sessions.leased` gauge reports (it adds every profile it issues for). */
  profileNames?: readonly string[];
  onEvent?: EventListener;
  /** The emitter to use, so that a handler and its issuer emit through one. Default: the issuer's own. */
  events?: EventEmitter;
  /** Where the issuer says what it cannot do as asked (the handler passes its own). Default: JSON lines on the console. */
  logger?: Logger;
  /**
   * The largest usage report, in bytes, that the route taking this issuer's reports reads (the
   * handler passes its `maxBodyBytes`): a token whose reports would not fit is an invalid upstream
   * answer (502). Default 16 KiB, the handler's default.
   */
  maxReportBytes?: number;
}

export interface IssueRequest {
  profile: Profile;
  /** The user's id: part of the reuse key (hashed), so users never share a token. */
  userId: string;
  /** The browser tab asking: two tabs of one user never share a token. */
  clientId?: string;
  signal?: AbortSignal;
  /**
   * Settles when the request may have a token (its rate limits passed). The cache is read in the
   * meantime, so that on a shared store the two go out together, in one round trip; nothing is
   * handed out or minted before it resolves, and when it rejects, so does the issue.
   */
  admitted?: Promise<unknown>;
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
  /** `discarded`: the client let the token go without starting a session (a prefetched token it refreshed). */
  event: UsageEvent;
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

/** A reuse entry: the token, until when it may be handed out, and the key of its record. */
type CachedToken = ReusableToken & { reuseUntil: number; dependsOn: string };

/**
 * A fleet lock outlives the upstream call's deadline by this much, so that its holder keeps it
 * through the store writes that follow the mint: the record (with the lease beside it), the reuse
 * entry and the outcome, three round trips in a row. On a healthy store each takes a millisecond or
 * so; three seconds is room for a store a thousand times slower, and for a write that hits
 * redisStore's own command timeout (two seconds) to fail and be reported within it. A waiter waits
 * no longer either: a holder that does not answer within its TTL is treated as gone. A holder held
 * up past the TTL says so in the log, since another server may then mint for the same key.
 */
const STORE_WRITES_MS = 3_000;

/**
 * A lock store's failures answer as the cache's do: 503 when `closed`; when `memory`, the lock
 * counts as taken, so each server mints for itself until the store is back.
 */
function withLockFailurePolicy(locks: FlightLockStore, policy: CacheFailurePolicy, onFailure: (error: unknown) => void = () => {}): FlightLockStore {
  return {
    async acquireLock(key, holder, ttlMs) {
      try {
        return await locks.acquireLock(key, holder, ttlMs);
      } catch (error) {
        onFailure(error);
        if (policy === "memory") return { taken: true, holder };
        throw new TollgateError("store_unavailable", { retryAfter: 5, cause: error });
      }
    },
    releaseLock: (key, holder) => locks.releaseLock(key, holder).catch(onFailure),
  };
}

/** The `reuse` option, checked: a margin that is negative or not finite would let a reuse entry outlive its record. */
function checkedReuse(reuse: TokenIssuerOptions["reuse"]): { marginMs?: number } | false {
  if (reuse === undefined) return {};
  if (reuse === false) return false;
  if (typeof reuse !== "object" || reuse === null) throw new OptionError("reuse", "must be { marginMs? } or false");
  const { marginMs } = reuse;
  if (marginMs !== undefined && (typeof marginMs !== "number" || !Number.isFinite(marginMs) || marginMs < 0)) {
    throw new OptionError("reuse.marginMs", "must be a number of ms, 0 or more");
  }
  return reuse;
}

export function createTokenIssuer(options: TokenIssuerOptions = {}): TokenIssuer {
  // The embedded cache cannot fail, so it needs no failure policy around it.
  const failingOver = options.store ? withFailurePolicy(options.store, options.onStoreError ?? "closed", options.onStoreFailure) : undefined;
  const store: CacheStore = failingOver ?? memoryCache();
  const reuse = checkedReuse(options.reuse);
  const defaultMaxSessionSeconds = sessionCeiling("maxSessionSeconds", options.maxSessionSeconds) ?? DEFAULT_MAX_SESSION_SECONDS;
  const emit = options.events ?? eventEmitter([telemetryListener(options), options.onEvent]);
  const logger = options.logger ?? consoleLogger;
  const tokenBytes = maxTokenBytes(bodyCap("maxReportBytes", options.maxReportBytes));
  const tracer = tollgateTracer(options.tracerProvider);
  const minters = new WeakMap<Provider<unknown, unknown>, Minter>();
  const flights = new SingleFlight<IssuedToken>();
  const storePolicy = options.onStoreError ?? "closed";
  const leases: SessionLeases | undefined = options.sessions
    ? sessionLeases({ sessions: options.sessions, store: options.store, onStoreError: storePolicy, onStoreFailure: options.onStoreFailure, emit, logger })
    : undefined;
  // Only a shared store needs a lock: in one process, the single-flight above is the whole fleet.
  const fleet = isFlightLockStore(options.store) ? fleetFlight({ locks: withLockFailurePolicy(options.store, storePolicy, options.onStoreFailure), outcomes: store }) : undefined;
  const leasedProfiles = new Set(options.profileNames ?? []);
  if (leases) observeActiveLeases(tollgateMeter(options.meterProvider), () => leases.active([...leasedProfiles]));

  function minterOf(provider: Provider<unknown, unknown>): Minter {
    let minter = minters.get(provider);
    if (!minter) {
      minter = minterFor(provider, tracer, emit, tokenBytes);
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
    if (leases) leasedProfiles.add(profile.name);

    if (reuse !== false) {
      // A reuse entry is a hit only while its token's record is there: a store that dropped the
      // record (an LRU, an eviction policy) could not check the token's reports any more.
      const lookup = getDependent<CachedToken>(store, keys.reuseKey);
      if (request.admitted) {
        // A refusal is the answer even when the read failed, so the read's failure waits for it.
        lookup.catch(() => {});
        await request.admitted;
      }
      const hit = cachedAnswer(await lookup, profile);
      if (hit) {
        // Asked first: the token's fingerprint is worked out only for an event that someone hears.
        if (emit.heard()) emit("cache_hit", context, { token: await fingerprint(hit.token) });
        return hit;
      }
    } else if (request.admitted) {
      await request.admitted;
    }
    return flights.run(keys.reuseKey, (signal) => mintOnce(request, keys, context, signal), request.signal);
  }

  function cachedAnswer(cached: CachedToken | undefined, profile: Profile): IssuedToken | undefined {
    if (!cached || !(cached.reuseUntil > Date.now())) return undefined;
    return { token: cached.token, expiresAt: cached.expiresAt, extra: cached.extra, provider: profile.provider.name, profile: profile.name, cacheHit: true };
  }

  /** This process's one mint for the key, made by whichever server of the fleet takes the key's lock. */
  async function mintOnce(request: IssueRequest, keys: RequestKeys, context: Partial<LifecycleEvent>, signal: AbortSignal): Promise<IssuedToken> {
    const upstream = request.profile.provider.upstream;
    // A local signer makes no upstream call, so there is nothing to save by waiting for another server.
    if (!fleet || !upstream) return (await cachedNow(request, keys, context)) ?? mintAndRemember(request, keys, context, signal);
    const lockTtlMs = upstream.retry.deadlineMs + STORE_WRITES_MS;
    return fleet({
      key: keys.reuseKey,
      lockTtlMs,
      // As long as the holder's lock: a holder that has not answered by then is gone, and the
      // client's own retry comes back to a free lock.
      waitMs: lockTtlMs,
      mint: () => mintAndRemember(request, keys, context, signal),
      recheck: () => cachedNow(request, keys, context),
      onWaited: (waitedMs) => emit("flight_waited", context, { durationMs: waitedMs }),
      onLockOutlived: (heldMs) =>
        logger.warn({ provider: context.provider, profile: context.profile, heldMs, lockTtlMs }, "a mint and its store writes held the fleet lock past its ttl; another server may have minted for the same key"),
      signal,
    });
  }

  /**
   * The cache looked at again just before a mint: the request's own read may have missed just
   * before another request's mint left its token there, and that token is the answer (with leases,
   * a second mint would also be refused for the lease the first one holds).
   */
  async function cachedNow(request: IssueRequest, keys: RequestKeys, context: Partial<LifecycleEvent>): Promise<IssuedToken | undefined> {
    if (reuse === false) return undefined;
    const hit = cachedAnswer(await getDependent<CachedToken>(store, keys.reuseKey), request.profile);
    if (hit && emit.heard()) emit("cache_hit", context, { token: await fingerprint(hit.token) });
    return hit;
  }

  async function mintAndRemember(request: IssueRequest, keys: RequestKeys, context: Partial<LifecycleEvent>, signal: AbortSignal): Promise<IssuedToken> {
    const { profile } = request;
    const provider = profile.provider;
    // Before the upstream call, so that a user over the limit costs none.
    const lease = leases ? await leases.take(keys.owner, profile.name, context) : undefined;
    // The profile's ceiling, or the issuer's (an hour by default): sent wherever the provider can
    // enforce it, so that no session runs past the lease that stands for it.
    const maxSessionSeconds = profile.maxSessionSeconds ?? defaultMaxSessionSeconds;
    const startedAt = Date.now();
    let minted: Awaited<ReturnType<Minter>>;
    try {
      minted = await minterOf(provider)(profile.config, { signal, user: { id: request.userId }, maxSessionSeconds }, context);
    } catch (error) {
      if (lease) await leases!.release(keys.owner, lease, profile.name, context, "mint_failed").catch(() => {});
      throw error;
    }
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
      maxSessionMs: maxSessionSeconds * 1000,
      mintedBy: activeSpanReference(),
      ...(lease ? { lease } : {}),
    };
    try {
      // The record first, so that the reuse entry, which is a hit only while its record is there, is
      // never read before it; linked to the reuse entry, so that a bounded store drops the two together.
      // Meanwhile the lease is set to lapse when the token expires unstarted.
      const tokenKey = await recordKey(minted.token);
      await Promise.all([
        store.set(tokenKey, record, recordTtlMs(record, now), keys.reuseKey),
        lease ? leases!.minted(keys.owner, lease, profile.name, minted.expiresAt) : undefined,
      ]);
      if (reuse !== false) {
        const reuseUntil = minted.expiresAt - reuseMarginOf(provider, minted.expiresAt - startedAt);
        if (reuseUntil > now) {
          const entry: CachedToken = { token: minted.token, expiresAt: minted.expiresAt, extra: minted.extra, reuseUntil, dependsOn: tokenKey };
          await store.set(keys.reuseKey, entry, reuseUntil - now);
        }
      }
    } catch (error) {
      // The token is not handed out (the client gets the store's error), so it holds no session.
      if (lease) await leases!.release(keys.owner, lease, profile.name, context, "store_failed").catch(() => {});
      throw error;
    }
    return { token: minted.token, expiresAt: minted.expiresAt, extra: minted.extra, provider: provider.name, profile: profile.name, cacheHit: false };
  }

  async function reportUsage(report: UsageReport): Promise<void> {
    const key = await recordKey(report.token);
    // While a shared store fails, a record the fallback does not hold may still exist: 503, not 404.
    const record = await (failingOver ? failingOver.getOrUnavailable<TokenRecord>(key) : store.get<TokenRecord>(key));
    if (!record) throw new TollgateError("token_not_found");
    if (record.owner !== (await userDigest(report.userId))) throw new TollgateError("token_not_owned");
    const outcome = applyReport(record, report.event, report.sessionId);
    linkActiveSpanTo(record.mintedBy);
    sessionOnActiveSpan(report.sessionId ?? record.sessionId, outcome?.events.includes("ended") ? report.durationMs : undefined);
    if (!outcome) return;
    const fields: Partial<LifecycleEvent> = { provider: record.provider, profile: record.profile, user: shortTag(record.owner), token: await fingerprint(report.token) };

    if (outcome.evict) await store.delete(record.reuseKey);
    await store.set(key, outcome.record, recordTtlMs(outcome.record, Date.now()), record.reuseKey);
    if (outcome.evict) emit("evicted", fields, { reason: outcome.evict });
    for (const name of outcome.events) emit(name, fields, name === "ended" ? { durationMs: report.durationMs } : undefined);
    if (leases && outcome.lease) {
      // A session that started may run for its maximum length from now; an end frees its slot at once.
      if (outcome.lease === "started") await leases.started(record.owner, record.lease!, record.profile, record.maxSessionMs, fields);
      else await leases.release(record.owner, record.lease!, record.profile, fields, outcome.lease.release);
    }
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
