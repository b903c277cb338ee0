/**
 * The cache store contract of tollgate/store/contract (src/store/contract/), registered with a test
 * runner: vitest's `it` in contract.test.ts, `Deno.test` in test/deno-kv.deno.ts.
 */
import { cacheStoreContract as contractCases, type CacheContractOptions, type CacheStoreFactory } from "../../src/store/contract/index.ts";

export { UNUSUAL_KEYS, type CacheStoreFactory, type Clock } from "../../src/store/contract/index.ts";

/** Registers one test case with the runner. */
export type Register = (name: string, body: () => Promise<void>) => void;

export function cacheStoreContract(name: string, makeStore: CacheStoreFactory, options: CacheContractOptions & { test: Register }): void {
  for (const { name: what, run } of contractCases(makeStore, options)) options.test(`${name} cache: ${what}`, run);
}
