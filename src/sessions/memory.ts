import { leaseMember, profileOfMember, type LeaseDecision, type LeaseStore } from "./types.ts";

export interface MemoryLeaseStoreOptions {
  /** Users whose leases are kept at most; when full, the user seen first is forgotten. Default 100 000. */
  maxUsers?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Leases in this process: exact for one server, and the fallback while a shared store is down.
 * Each user's leases are a small map from lease to the time it lapses; lapsed ones are swept
 * whenever that user's leases are looked at.
 */
export function memoryLeaseStore(options: MemoryLeaseStoreOptions = {}): LeaseStore {
  const maxUsers = options.maxUsers ?? 100_000;
  if (!Number.isSafeInteger(maxUsers) || maxUsers < 1) throw new TypeError("memoryLeaseStore: maxUsers must be a positive integer");
  const now = options.now ?? Date.now;
  const users = new Map<string, Map<string, number>>();

  /** `owner`'s live leases, with the lapsed ones removed and named. */
  function sweep(owner: string, create: boolean): { leases: Map<string, number> | undefined; lapsed: string[] } {
    let leases = users.get(owner);
    const lapsed: string[] = [];
    const at = now();
    if (leases) {
      for (const [member, until] of leases) {
        if (until <= at) {
          leases.delete(member);
          lapsed.push(profileOfMember(member));
        }
      }
      if (leases.size === 0 && !create) users.delete(owner);
    } else if (create) {
      while (users.size >= maxUsers) users.delete(users.keys().next().value!);
      leases = new Map();
      users.set(owner, leases);
    }
    return { leases, lapsed };
  }

  return {
    takeLease(owner, id, profile, limit, ttlMs) {
      const { leases, lapsed } = sweep(owner, true);
      const member = leaseMember(profile, id);
      const at = now();
      let decision: LeaseDecision;
      if (leases!.has(member) || leases!.size < limit) {
        leases!.set(member, at + ttlMs);
        decision = { taken: true, held: leases!.size, lapsed };
      } else {
        const earliest = Math.min(...leases!.values());
        decision = { taken: false, held: leases!.size, retryAfterMs: earliest - at, lapsed };
      }
      if (leases!.size === 0) users.delete(owner);
      return Promise.resolve(decision);
    },
    renewLease(owner, id, profile, ttlMs) {
      const { leases, lapsed } = sweep(owner, false);
      const member = leaseMember(profile, id);
      const renewed = leases?.has(member) ?? false;
      if (renewed) leases!.set(member, now() + ttlMs);
      return Promise.resolve({ renewed, lapsed });
    },
    releaseLease(owner, id, profile) {
      const { leases, lapsed } = sweep(owner, false);
      const released = leases?.delete(leaseMember(profile, id)) ?? false;
      if (leases && leases.size === 0) users.delete(owner);
      return Promise.resolve({ released, lapsed });
    },
    leaseCount(owner) {
      const at = now();
      let count = 0;
      for (const until of users.get(owner)?.values() ?? []) if (until > at) count++;
      return Promise.resolve(count);
    },
    activeLeases(profiles) {
      const at = now();
      const counts = new Map(profiles.map((profile) => [profile, 0]));
      for (const leases of users.values()) {
        for (const [member, until] of leases) {
          const profile = profileOfMember(member);
          const count = counts.get(profile);
          if (until > at && count !== undefined) counts.set(profile, count + 1);
        }
      }
      return Promise.resolve(Object.fromEntries(counts));
    },
  };
}
