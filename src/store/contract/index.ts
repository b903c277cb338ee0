/**
 * tollgate/store/contract: the cases every cache store and rate-limit store passes, for a store
 * author to run against their own. Each is a name and an async function that throws a
 * ContractFailure when the store breaks the contract, so any test runner can run them:
 *
 *   for (const { name, run } of cacheStoreContract((clock) => myStore({ now: () => clock.now }), { expiresOnClock: true })) it(name, run);
 *
 * A factory gets a clock that the cases move (`clock.now`, epoch ms) and must answer a store whose
 * keys no other store from it sees (a fresh prefix each time, on a shared backend).
 */

/** The clock a case moves; a store reads `now` from it when it can. */
export interface Clock {
  now: number;
}

/** One case of a contract: run it, and it throws when the store breaks the contract. */
export interface ContractCase {
  name: string;
  run: () => Promise<void>;
}

export { ContractFailure } from "./assert.ts";
export { cacheStoreContract, UNUSUAL_KEYS, type CacheContractOptions, type CacheStoreFactory } from "./cache.ts";
export { rateLimitStoreContract, type RateLimitContractOptions, type RateLimitStoreFactory } from "./rate-limit.ts";
