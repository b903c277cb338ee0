import { TollgateError, type ErrorCode } from "../errors.ts";
import type { FlightLockStore } from "../sessions/types.ts";
import type { CacheStore } from "../store/types.ts";

/**
 * One upstream call per key across every server that shares a store. The single-flight of
 * ./single-flight.ts joins the requests of one process; this joins the processes: each takes a
 * short lock on the key in the shared store, and the one that gets it mints while the others poll
 * for its outcome (the token, or the error it ended with), which it leaves in the store under its
 * own id before letting go. The lock lapses by itself, so when its holder dies another server takes
 * over once the TTL has passed; nobody waits past `waitMs`.
 *
 * Whoever takes the lock looks at the cache before minting: a request whose cache read missed just
 * before another server left its token there finds the lock free, and must hand that token out
 * rather than mint a second one. A holder whose own callers all went away leaves no outcome, so
 * that the servers waiting on it take over rather than share an abort that was not theirs.
 */

export interface FleetFlightOptions {
  locks: FlightLockStore;
  /** Where outcomes are left for the waiters: the issuer's cache store. */
  outcomes: CacheStore;
  /** Between two looks at the lock and the outcome. */
  pollMs?: number;
}

export interface FleetFlightRun<T> {
  key: string;
  /** Longer than the mint may take, so that a slow holder is not taken over while it still works. */
  lockTtlMs: number;
  /** The longest a waiter waits, takeovers included; then 504. */
  waitMs: number;
  mint: () => Promise<T>;
  /** Looked at once the lock is taken: a holder that finished may have left its token where reuse finds it. */
  recheck: () => Promise<T | undefined>;
  /** Told how long this process waited, when it waited for another's mint. */
  onWaited?: (waitedMs: number) => void;
  /** Told when this process held the lock past its TTL, so that another server may have minted too. */
  onLockOutlived?: (heldMs: number) => void;
  /** The holder's own: aborted when every caller in this process went away. */
  signal: AbortSignal;
}

/** What a holder leaves for the waiters: its token, or the error the client is answered with. */
type Outcome<T> = { ok: T } | { error: { code: ErrorCode; detail: string; retryAfter?: number } };

/** Long enough for every waiter to read it, short enough that nothing lingers. */
const OUTCOME_TTL_MS = 30_000;
const DEFAULT_POLL_MS = 25;

export function fleetFlight(options: FleetFlightOptions) {
  const { locks, outcomes } = options;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;

  return async function run<T>(run: FleetFlightRun<T>): Promise<T> {
    const me = crypto.randomUUID();
    const lockKey = `lock:${run.key}`;
    const startedAt = Date.now();
    // The holder seen last: once its lock is free, its outcome is in the store (it leaves it first).
    let lastHolder: string | undefined;
    for (;;) {
      const lock = await locks.acquireLock(lockKey, me, run.lockTtlMs);
      if (lock.taken) {
        const lockedAt = Date.now();
        try {
          // The last holder's outcome first (it may be an error, which the cache never holds), then the cache.
          const outcome = lastHolder === undefined ? undefined : await outcomeOf<T>(lastHolder);
          if (outcome) return settle(run, startedAt, outcome);
          const found = await run.recheck();
          if (found !== undefined) {
            if (lastHolder !== undefined) run.onWaited?.(Date.now() - startedAt);
            return found;
          }
          const minted = await holdAndMint(run, me);
          if (lastHolder !== undefined) run.onWaited?.(Date.now() - startedAt);
          return minted;
        } finally {
          const heldMs = Date.now() - lockedAt;
          if (heldMs > run.lockTtlMs) run.onLockOutlived?.(heldMs);
          await locks.releaseLock(lockKey, me).catch(() => {});
        }
      }
      if (lock.holder !== undefined) {
        lastHolder = lock.holder;
        const outcome = await outcomeOf<T>(lock.holder);
        if (outcome) return settle(run, startedAt, outcome);
      }
      if (Date.now() - startedAt >= run.waitMs) throw new TollgateError("upstream_timeout", { detail: "Another server's mint for this request did not finish in time" });
      await sleep(pollMs, run.signal);
    }
  };

  function outcomeOf<T>(holder: string): Promise<Outcome<T> | undefined> {
    return outcomes.get<Outcome<T>>(`flight:${holder}`);
  }

  async function holdAndMint<T>(run: FleetFlightRun<T>, me: string): Promise<T> {
    let outcome: Outcome<T>;
    try {
      outcome = { ok: await run.mint() };
    } catch (error) {
      // Aborted because every caller here went away: not an outcome for anyone else. Without one,
      // the waiters find the lock free and take over.
      if (run.signal.aborted) throw error;
      const known = error instanceof TollgateError ? error : new TollgateError("internal", { cause: error });
      outcome = { error: { code: known.code, detail: known.detail, ...(known.retryAfter !== undefined ? { retryAfter: known.retryAfter } : {}) } };
      await leave(me, outcome);
      throw error;
    }
    await leave(me, outcome);
    return outcome.ok;
  }

  /** The outcome for the waiters; if the store cannot take it, they take over once the lock lapses. */
  async function leave(me: string, outcome: Outcome<unknown>): Promise<void> {
    await outcomes.set(`flight:${me}`, outcome, OUTCOME_TTL_MS).catch(() => {});
  }
}

/** A waiter's answer: the holder's token, or its error. */
function settle<T>(run: FleetFlightRun<T>, startedAt: number, outcome: Outcome<T>): T {
  run.onWaited?.(Date.now() - startedAt);
  if ("ok" in outcome) return outcome.ok;
  throw new TollgateError(outcome.error.code, { detail: outcome.error.detail, retryAfter: outcome.error.retryAfter });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    };
    const abort = () => {
      done();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal.addEventListener("abort", abort, { once: true });
  });
}
