import fc from "fast-check";
import { describe, it } from "vitest";
import { memoryRateLimitStore } from "../src/rate-limit/memory-store.ts";
import { retryArbitrary, runRetryAfter, runScenario, scenarioArbitrary, type StoreFactory } from "./rate-limit-harness.ts";

const memory: StoreFactory = (clock) => memoryRateLimitStore({ now: () => clock.now });

describe("memory rate-limit store, properties", () => {
  it("never admits more than an algorithm allows, under random traffic and clock steps", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(memory, scenario, "k")),
      { numRuns: 400 },
    );
  });

  it("admits a refused request once its Retry-After has passed", async () => {
    await fc.assert(
      fc.asyncProperty(retryArbitrary, (input) => runRetryAfter(memory, input, "k")),
      { numRuns: 300 },
    );
  });

});
