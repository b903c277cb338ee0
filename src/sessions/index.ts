/**
 * Sessions: leases that bound how many sessions a user may hold at once, and the lock that lets one
 * server of a fleet mint for a key while the others wait. The interfaces a store implements, and
 * the in-memory lease store.
 */
export type { FlightLockStore, LeaseDecision, LeaseStore } from "./types.ts";
export { isFlightLockStore, isLeaseStore, leaseMember, profileOfMember } from "./types.ts";
export { memoryLeaseStore, type MemoryLeaseStoreOptions } from "./memory.ts";
export { checkSessionOptions, sessionLeases, PENDING_MINT_MS, type SessionLeases, type SessionOptions } from "./leases.ts";
