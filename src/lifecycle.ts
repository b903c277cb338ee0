/**
 * The life of a token, as one list that the pipeline emits and everything else reads: telemetry,
 * logs and the app's own `onEvent` hook.
 *
 *   requested -> denied | rate_limited | cache_hit | session_limited | lease_taken -> minting
 *             -> retried* -> minted -> issued
 *             -> started (the client started its session) -> ended (with the session's duration)
 *                | session_failed (the provider refused the token when the session started)
 *                | discarded (the client let the token go without starting a session)
 *   failed when a request ends without a token; evicted when a cached token is started, failed,
 *   discarded or near its expiry. A lease is released (`lease_released`) when its mint fails, its
 *   token is discarded, or its session ends or fails, and lapses (`lease_lapsed`) when its token expired unstarted or its session
 *   passed the maximum length. `flight_waited`: a request waited for another server's mint.
 */
export const LIFECYCLE_EVENTS = [
  "requested",
  "denied",
  "rate_limited",
  "cache_hit",
  "session_limited",
  "lease_taken",
  "flight_waited",
  "minting",
  "retried",
  "minted",
  "issued",
  "started",
  "ended",
  "session_failed",
  "discarded",
  "evicted",
  "failed",
  "lease_released",
  "lease_lapsed",
] as const;

export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

/**
 * One event. It never holds the API key, a token or a raw user id: `token` is a short fingerprint
 * and `user` a short hash, so events can go to any log or backend as they are.
 */
export interface LifecycleEvent {
  name: LifecycleEventName;
  /** Epoch milliseconds. */
  time: number;
  /** The provider's name, once the request's profile is known. */
  provider?: string;
  /** The profile asked for, once the server knows it (a browser's unknown name never gets here). */
  profile?: string;
  /** A short hash of the user's id. */
  user?: string;
  /** A short fingerprint of the token concerned. */
  token?: string;
  /** 1-based upstream attempt (`minting`, `retried`). */
  attempt?: number;
  /** Wait before the next attempt (`retried`). */
  delayMs?: number;
  /** What went wrong (`failed`, `retried`, `denied`): a status, a code, never free text. */
  errorType?: string;
  /** The HTTP status answered (`denied`, `rate_limited`, `failed`). */
  status?: number;
  /** Upstream mint time (`minted`), the session's length (`ended`), or the wait for another server's mint (`flight_waited`). */
  durationMs?: number;
  /** Whether the token came from the reuse cache (`issued`). */
  cacheHit?: boolean;
  /**
   * Why a token left the cache (`evicted`: `started`, `failed`, `ended`, `discarded`) or a lease
   * ended (`lease_released`: `ended`, `failed`, `discarded`, `mint_failed`, `store_failed`).
   */
  reason?: string;
  /** The limit that refused the request (`rate_limited`). */
  limit?: string;
  /**
   * `allowed` on a request's last event (`issued` or `failed`) once its rate limits let it
   * through, so that decisions can be counted by outcome; a refusal is the `rate_limited` event.
   */
  rateLimit?: "allowed";
}

/**
 * Hears lifecycle events. A listener that hears only some of the time (telemetry with no SDK to
 * record anything, say) says so through `hears`, so that no event is built for nobody.
 */
export type EventListener = ((event: LifecycleEvent) => void) & {
  /** Whether an event emitted now would reach anything; absent means always. */
  readonly hears?: () => boolean;
};

/** Emits lifecycle events: `emit(name, context, fields)`. */
export interface EventEmitter {
  (name: LifecycleEventName, context?: Partial<LifecycleEvent>, fields?: Partial<LifecycleEvent>): void;
  /**
   * Whether any listener would hear an event emitted now. Emitting checks it too; a caller asks
   * first only when an event's fields cost something to work out.
   */
  heard(): boolean;
}

/**
 * Builds each event (its time, the request's `context` and the event's own `fields`)
 * and hands it to every listener, unless none would hear it: building the events of a cache hit
 * that no one hears costs microseconds of every request on Node. A listener that throws must not
 * break the request it observes.
 */
export function eventEmitter(listeners: ReadonlyArray<EventListener | undefined>): EventEmitter {
  const active = listeners.filter((listener): listener is EventListener => listener !== undefined);
  const alwaysHeard = active.some((listener) => listener.hears === undefined);
  const heard = () => alwaysHeard || active.some((listener) => listener.hears!());
  const emit = (name: LifecycleEventName, context?: Partial<LifecycleEvent>, fields?: Partial<LifecycleEvent>) => {
    if (!heard()) return;
    const event: LifecycleEvent = { name, time: Date.now(), ...context, ...fields };
    for (const listener of active) {
      try {
        listener(event);
      } catch {
        // Observability must never change the answer a user gets.
      }
    }
  };
  return Object.assign(emit, { heard });
}
