/**
 * The contract every RateLimitStore keeps: each algorithm admits its limit and then refuses with a
 * Retry-After that is long enough, charges costs, decides concurrent requests exactly, gives back
 * refunds, keeps keys apart, and rejects rules it cannot honour. See ./index.ts.
 */
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitRule, RateLimitStore } from "../../rate-limit/types.ts";
import { deepEqual, equal, ok, rejects } from "./assert.ts";
import { UNUSUAL_KEYS } from "./cache.ts";
import type { Clock, ContractCase } from "./index.ts";

/** A fresh store, with keys no other store from this factory sees, reading `clock` for every decision. */
export type RateLimitStoreFactory = (clock: Clock) => RateLimitStore | Promise<RateLimitStore>;

export interface RateLimitContractOptions {
  /**
   * `atomic` for a store whose decisions are exact across processes; `best-effort` for one that is
   * exact within one process only (unstorage without Redis). Both must admit exactly the limit
   * out of concurrent decisions made in this process.
   */
  mode: "atomic" | "best-effort";
}

const ALGORITHMS: RateLimitAlgorithm[] = ["fixed-window", "sliding-window", "token-bucket"];
/** A moment in the middle of any window used here, so that no case crosses a boundary by accident. */
const START = 1_750_000_000_000 + 30_000;

function ruleFor(algorithm: RateLimitAlgorithm, limit: number, windowMs = 3_600_000): RateLimitRule {
  return { algorithm, limit, windowMs };
}

function allowedCount(decisions: RateLimitDecision[]) {
  return decisions.filter((d) => d.allowed).length;
}

export function rateLimitStoreContract(makeStore: RateLimitStoreFactory, options: RateLimitContractOptions): ContractCase[] {
  const cases: ContractCase[] = [];
  const add = (name: string, run: () => Promise<void>) => cases.push({ name, run });
  const fresh = async () => {
    const clock: Clock = { now: START };
    return { clock, store: await makeStore(clock) };
  };

  for (const algorithm of ALGORITHMS) {
    add(`${algorithm}: admits the limit, then refuses with retryAfter > 0, then admits after it`, async () => {
      const { clock, store } = await fresh();
      const rule = ruleFor(algorithm, 3, 60_000);
      for (let i = 1; i <= 3; i++) {
        const decision = await store.consume("user:a", rule, 1);
        equal(decision.allowed, true, `request ${i}`);
        equal(decision.limit, 3);
        equal(decision.remaining, 3 - i);
        equal(decision.retryAfter, 0);
        ok(decision.resetAt > clock.now);
      }
      const refused = await store.consume("user:a", rule, 1);
      equal(refused.allowed, false);
      equal(refused.remaining, 0);
      ok(refused.retryAfter > 0, `retryAfter ${refused.retryAfter}`);
      ok(Number.isInteger(refused.retryAfter));
      ok(refused.retryAfter <= 60);
      // A refusal records nothing: asked again at once, the answer is the same.
      deepEqual(await store.consume("user:a", rule, 1), refused);
      clock.now += refused.retryAfter * 1000;
      equal((await store.consume("user:a", rule, 1)).allowed, true);
    });

    add(`${algorithm}: charges a request's cost`, async () => {
      const { store } = await fresh();
      const rule = ruleFor(algorithm, 5);
      equal((await store.consume("user:c", rule, 3)).remaining, 2);
      const tooDear = await store.consume("user:c", rule, 3);
      equal(tooDear.allowed, false);
      equal(tooDear.remaining, 2);
      ok(tooDear.retryAfter > 0);
      const fits = await store.consume("user:c", rule, 2);
      equal(fits.allowed, true);
      equal(fits.remaining, 0);
    });

    const exact = options.mode === "atomic" ? "atomically" : "exactly within this process (best-effort across processes)";
    add(`${algorithm}: 60 parallel decisions admit exactly the limit, ${exact}`, async () => {
      const { store } = await fresh();
      const declared = (store as { rateLimitMode?: string }).rateLimitMode;
      if (declared !== undefined) equal(declared, options.mode);
      const rule = ruleFor(algorithm, 10);
      const decisions = await Promise.all(Array.from({ length: 60 }, () => store.consume("user:burst", rule, 1)));
      equal(allowedCount(decisions), 10);
      for (const refused of decisions.filter((d) => !d.allowed)) {
        ok(refused.retryAfter > 0);
        equal(refused.remaining, 0);
      }
      // Parallel decisions on several keys at once: each key still gets exactly its limit.
      const keys = ["user:p0", "user:p1", "user:p2"];
      const mixed = await Promise.all(Array.from({ length: 45 }, (_, i) => store.consume(keys[i % 3]!, ruleFor(algorithm, 4), 1).then((d) => ({ key: keys[i % 3]!, d }))));
      for (const key of keys) equal(mixed.filter((m) => m.key === key && m.d.allowed).length, 4, key);
    });
  }

  for (const algorithm of ALGORITHMS) {
    add(`${algorithm}: a refund gives back what its decision took, its cost included`, async () => {
      const { store } = await fresh();
      equal(typeof store.refund, "function", "the store has refund()");
      const rule = ruleFor(algorithm, 5, 60_000);
      await store.consume("user:g", rule, 2);
      const dear = await store.consume("user:g", rule, 3);
      equal(dear.allowed, true);
      equal((await store.consume("user:g", rule, 1)).allowed, false);
      await store.refund!("user:g", rule, 3, dear);
      const after = await store.consume("user:g", rule, 3);
      equal(after.allowed, true, "the 3 units given back are there to take again");
      equal(after.remaining, 0);
      equal((await store.consume("user:g", rule, 1)).allowed, false, "and no more than them");
    });

    add(`${algorithm}: a refund never gives back more than there is to give`, async () => {
      const { clock, store } = await fresh();
      const rule = ruleFor(algorithm, 3, 60_000);
      const first = await store.consume("user:h", rule, 1);
      // A whole window later the unit is back by itself (or the window is a new one): a refund
      // of the old decision must not add a fourth.
      clock.now += 60_000;
      await store.consume("user:h", rule, 1);
      await store.refund!("user:h", rule, 1, first);
      const decisions = [];
      for (let i = 0; i < 3; i++) decisions.push(await store.consume("user:h", rule, 1));
      deepEqual(
        decisions.map((d) => d.allowed),
        [true, true, false],
        "two of three left: the refund of a unit from a past window gave nothing back",
      );
      // Nor does a refund on a key that holds nothing create units.
      await store.refund!("user:none", rule, 1, first);
      equal((await store.consume("user:none", rule, 3)).remaining, 0);
      equal((await store.consume("user:none", rule, 1)).allowed, false);
    });

    add(`${algorithm}: parallel refunds all land, and the limit holds after them`, async () => {
      const { store } = await fresh();
      const rule = ruleFor(algorithm, 10);
      const admitted = await Promise.all(Array.from({ length: 10 }, () => store.consume("user:q", rule, 1)));
      equal(allowedCount(admitted), 10);
      await Promise.all(admitted.map((decision) => store.refund!("user:q", rule, 1, decision)));
      const again = await Promise.all(Array.from({ length: 30 }, () => store.consume("user:q", rule, 1)));
      equal(allowedCount(again), 10);
    });
  }

  add(`keys are counted apart, unusual ones included`, async () => {
    const { store } = await fresh();
    const rule = ruleFor("fixed-window", 2);
    await store.consume("user:a", rule, 2);
    equal((await store.consume("user:a", rule, 1)).allowed, false);
    const other = await store.consume("user:b", rule, 1);
    equal(other.allowed, true);
    equal(other.remaining, 1);
    // Each unusual key takes one unit; had two of them met in one count, one would see 0 left.
    for (const key of UNUSUAL_KEYS) equal((await store.consume(key, rule, 1)).remaining, 1, JSON.stringify(key));
  });

  add(`rejects a rule or cost no algorithm can honour, before deciding`, async () => {
    const { store } = await fresh();
    const rule = ruleFor("fixed-window", 2);
    await rejects(store.consume("user:r", { ...rule, algorithm: "leaky" as never }, 1), /unknown algorithm/);
    await rejects(store.consume("user:r", { ...rule, limit: 0 }, 1), /limit must be a positive integer/);
    await rejects(store.consume("user:r", { ...rule, windowMs: -1 }, 1), /windowMs/);
    await rejects(store.consume("user:r", rule, 3), /cost must be an integer from 1 to the limit/);
    await rejects(store.consume("user:r", rule, 0), /cost/);
    // Nothing was counted.
    equal((await store.consume("user:r", rule, 2)).allowed, true);
  });
  return cases;
}
