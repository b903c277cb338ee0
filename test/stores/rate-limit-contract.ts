/**
 * The rate-limit store contract of tollgate/store/contract (src/store/contract/), registered with a
 * test runner (see cache-contract.ts), and beside it the property checks of
 * test/rate-limit-harness.ts, which need fast-check and so stay in this repository's suite.
 */
import fc from "fast-check";
import { rateLimitStoreContract as contractCases, type RateLimitContractOptions } from "../../src/store/contract/index.ts";
import { retryArbitrary, runRetryAfter, runScenario, scenarioArbitrary, type StoreFactory } from "../rate-limit-harness.ts";
import type { Register } from "./cache-contract.ts";

export type { StoreFactory as RateLimitStoreFactory } from "../rate-limit-harness.ts";

export interface RateLimitSuiteOptions extends RateLimitContractOptions {
  test: Register;
  /** Runs of each property check; more for a store in memory, fewer for one across a network. */
  propertyRuns: { scenarios: number; retries: number };
}

export function rateLimitStoreContract(name: string, makeStore: StoreFactory, options: RateLimitSuiteOptions): void {
  const { test } = options;
  for (const { name: what, run } of contractCases(makeStore, options)) test(`${name} rate limit, ${what}`, run);

  test(`${name} rate limit: never admits more than an algorithm allows, under concurrent traffic and clock steps`, async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(makeStore, scenario, `s${++run}`)), { numRuns: options.propertyRuns.scenarios });
  });

  test(`${name} rate limit: admits a refused request once its Retry-After has passed`, async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(retryArbitrary, (input) => runRetryAfter(makeStore, input, `r${++run}`)), { numRuns: options.propertyRuns.retries });
  });
}
