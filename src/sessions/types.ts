/**
 * What session leases and the fleet-wide single-flight lock ask of a store. Each has an in-memory
 * implementation (./memory.ts); the Redis, Deno KV and unstorage (Redis driver) stores implement
 * both, atomically, so that every copy of the server sees the same leases and the same lock.
 *
 * A lease is a user's claim to one session: taken when a fresh token is handed to them, it ends
 * when its holder releases it or when its time runs out (it lapses). Keys name users by the digest
 * of their id, never the id itself.
 */

/** The outcome of taking a lease. `lapsed` names the profile of each lease found lapsed and removed. */
export type LeaseDecision =
  | { taken: true; held: number; lapsed: string[] }
  /** Refused: `held` leases are live, and the earliest of them lapses in `retryAfterMs`. */
  | { taken: false; held: number; retryAfterMs: number; lapsed: string[] };

export interface LeaseStore {
  /**
   * Takes lease `id` (for `profile`) for `owner` for `ttlMs`, if `owner` holds fewer than `limit`
   * live leases; an `id` already held is given `ttlMs` from now and counts once. One atomic step.
   */
  takeLease(owner: string, id: string, profile: string, limit: number, ttlMs: number): Promise<LeaseDecision>;
  /** Gives a held lease `ttlMs` from now; `renewed` is false when it is no longer held (released or lapsed). */
  renewLease(owner: string, id: string, profile: string, ttlMs: number): Promise<{ renewed: boolean; lapsed: string[] }>;
  /** Ends a lease; `released` is false when it was not held (already released, or lapsed). */
  releaseLease(owner: string, id: string, profile: string): Promise<{ released: boolean; lapsed: string[] }>;
  /** The live leases `owner` holds now. */
  leaseCount(owner: string): Promise<number>;
  /** The live leases of each of `profiles`, across every user and every server sharing the store. */
  activeLeases(profiles: readonly string[]): Promise<Record<string, number>>;
}

/**
 * A short lock per reuse key, so that one server mints while the others wait for its outcome. The
 * lock lapses after its TTL, so a holder that dies holds nobody up for longer than that.
 */
export interface FlightLockStore {
  /** Takes the lock on `key` for `holder` for `ttlMs` unless someone holds it; answers who holds it now. */
  acquireLock(key: string, holder: string, ttlMs: number): Promise<{ taken: boolean; holder: string | undefined }>;
  /** Lets go of the lock if `holder` still holds it. */
  releaseLock(key: string, holder: string): Promise<void>;
}

/** Lease ids and profile names hold no `:`, so a lease is stored as `<profile>:<id>`. */
export function leaseMember(profile: string, id: string): string {
  return `${profile}:${id}`;
}

/** The profile of a stored lease. */
export function profileOfMember(member: string): string {
  const colon = member.indexOf(":");
  return colon < 0 ? member : member.slice(0, colon);
}

export function isLeaseStore(store: unknown): store is LeaseStore {
  return typeof (store as Partial<LeaseStore> | undefined)?.takeLease === "function";
}

export function isFlightLockStore(store: unknown): store is FlightLockStore {
  return typeof (store as Partial<FlightLockStore> | undefined)?.acquireLock === "function";
}
