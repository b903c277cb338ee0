import { OptionError, TollgateError } from "../errors.ts";
import type { EventEmitter, LifecycleEvent } from "../lifecycle.ts";
import type { Logger } from "../log.ts";
import { failingOver } from "../store/failure-policy.ts";
import { memoryLeaseStore } from "./memory.ts";
import { isLeaseStore, type LeaseStore } from "./types.ts";

/**
 * Session leases as the issuer uses them: at most `maxPerUser` tokens per user that may still
 * become (or are) sessions, on every server that shares the store.
 *
 * - taken before a fresh token is minted, so a refusal costs no upstream call (a cached token
 *   handed out again holds the lease it already has);
 * - while the mint runs, the lease lapses after PENDING_MINT_MS; once minted, when the token expires
 *   unstarted; once reported started, when the session passes its maximum length;
 * - released when the mint fails, or the client reports `ended` or `failed`.
 */

export interface SessionOptions {
  /** Leases (live or pending sessions) per user at a time, across every server sharing the store. */
  maxPerUser: number;
}

/** How long a lease is held for a mint in flight: past any mint's deadline, so a crashed server's lease still lapses soon. */
export const PENDING_MINT_MS = 60_000;

export interface SessionLeases {
  /** Takes a lease for a fresh token, or throws 429 `session_limit` with a Retry-After. */
  take(owner: string, profile: string, events: Partial<LifecycleEvent>): Promise<string>;
  /** The token is minted: its lease lapses when the token expires unstarted. */
  minted(owner: string, id: string, profile: string, expiresAt: number): Promise<void>;
  /** The session started: its lease lapses when the session passes its maximum length. */
  started(owner: string, id: string, profile: string, maxSessionMs: number, events: Partial<LifecycleEvent>): Promise<void>;
  /** The lease ends (mint failed, session ended or failed); false when it had already gone. */
  release(owner: string, id: string, profile: string, events: Partial<LifecycleEvent>, reason: string): Promise<boolean>;
  /** Live leases per profile, as the store holds them for the whole fleet. */
  active(profiles: readonly string[]): Promise<Record<string, number>>;
}

export interface SessionLeasesOptions {
  sessions: SessionOptions;
  /** The issuer's store: its leases are used when it has them, otherwise leases live in this process. */
  store: unknown;
  onStoreError: "closed" | "memory";
  onStoreFailure?: (error: unknown) => void;
  emit: EventEmitter;
  /** Told once, when leases are made, that a store which cannot hold them leaves them in this process. */
  logger?: Pick<Logger, "warn">;
}

export function checkSessionOptions(sessions: unknown): SessionOptions {
  if (typeof sessions !== "object" || sessions === null) throw new OptionError("sessions", "must be { maxPerUser }");
  const { maxPerUser } = sessions as Partial<SessionOptions>;
  if (typeof maxPerUser !== "number" || !Number.isSafeInteger(maxPerUser) || maxPerUser < 1) throw new OptionError("sessions.maxPerUser", "must be a whole number, at least 1");
  return { maxPerUser };
}

export function sessionLeases(options: SessionLeasesOptions): SessionLeases {
  const { maxPerUser } = checkSessionOptions(options.sessions);
  const { emit } = options;
  const store = isLeaseStore(options.store) ? withFailurePolicy(options.store, options.onStoreError, options.onStoreFailure) : memoryLeaseStore();
  // Best-effort, and said so (without a store at all, this process is the whole fleet).
  if (options.store !== undefined && !isLeaseStore(options.store)) {
    options.logger?.warn(
      { maxPerUser },
      "session leases are held in this process's memory: the store cannot hold them, so each server counts its own (the Redis and Deno KV stores, and unstorage on its Redis driver, share them)",
    );
  }

  // Lapses are seen when the store next looks at that user's leases, by whichever server does.
  const reportLapsed = (lapsed: string[], events: Partial<LifecycleEvent>) => {
    for (const profile of lapsed) emit("lease_lapsed", { user: events.user, profile, ...(profile === events.profile ? { provider: events.provider } : {}) });
  };

  return {
    async take(owner, profile, events) {
      const id = crypto.randomUUID();
      const decision = await store.takeLease(owner, id, profile, maxPerUser, PENDING_MINT_MS);
      reportLapsed(decision.lapsed, events);
      if (!decision.taken) {
        const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        emit("session_limited", events, { status: 429 });
        throw new TollgateError("session_limit", { detail: `At most ${maxPerUser} sessions at once; retry in ${Math.min(retryAfter, 3600)} s`, retryAfter });
      }
      emit("lease_taken", events);
      return id;
    },
    async minted(owner, id, profile, expiresAt) {
      await store.renewLease(owner, id, profile, Math.max(1, expiresAt - Date.now()));
    },
    async started(owner, id, profile, maxSessionMs, events) {
      const { lapsed } = await store.renewLease(owner, id, profile, maxSessionMs);
      reportLapsed(lapsed, events);
    },
    async release(owner, id, profile, events, reason) {
      const { released, lapsed } = await store.releaseLease(owner, id, profile);
      reportLapsed(lapsed, events);
      if (released) emit("lease_released", events, { reason });
      return released;
    },
    active: (profiles) => store.activeLeases(profiles),
  };
}

/** A shared lease store's failures: 503 when `closed`, leases in this process until it is back when `memory`. */
function withFailurePolicy(store: LeaseStore, policy: "closed" | "memory", onFailure: (error: unknown) => void = () => {}): LeaseStore {
  const attempt = failingOver(store, policy === "memory" ? memoryLeaseStore() : undefined, onFailure);
  return {
    takeLease: (...args) => attempt((target) => target.takeLease(...args)),
    renewLease: (...args) => attempt((target) => target.renewLease(...args)),
    releaseLease: (...args) => attempt((target) => target.releaseLease(...args)),
    leaseCount: (owner) => attempt((target) => target.leaseCount(owner)),
    activeLeases: (profiles) => attempt((target) => target.activeLeases(profiles)),
  };
}
