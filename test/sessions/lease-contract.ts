/**
 * The contract every LeaseStore (and FlightLockStore) keeps, as tests any runner can register:
 * vitest's `it` in leases.test.ts, `Deno.test` in test/deno-kv.deno.ts. The property checks run a
 * random sequence of takes, renewals, releases and clock steps against a plain model of leases and
 * compare every answer; the second one adds restarts (a new store on the same data, as a server
 * that restarts) and bursts of concurrent takes from two stores on that data (two servers). The
 * concurrency cases fire takes at once and count what was admitted.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import type { FlightLockStore, LeaseStore } from "../../src/sessions/types.ts";
import type { Clock, Register } from "../stores/cache-contract.ts";

type ContractStore = LeaseStore & Partial<FlightLockStore>;

/**
 * A store on the data named `backend`: a name not seen before is fresh, empty data; the same name
 * again opens another store on that same data (for the memory store, whose data is the store
 * itself, the same store).
 */
export type LeaseStoreFactory = (clock: Clock, backend: string) => ContractStore | Promise<ContractStore>;

export interface LeaseContractOptions {
  test: Register;
  /** Runs of the model check: more for memory, fewer across a network. */
  runs: number;
}

const START = 1_750_000_000_000;
const LIMIT = 2;

type Command =
  | { kind: "take"; owner: number; profile: string; ttl: number }
  | { kind: "renew"; owner: number; pick: number; ttl: number }
  | { kind: "release"; owner: number; pick: number }
  | { kind: "advance"; ms: number };

const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("take" as const), owner: fc.nat(1), profile: fc.constantFrom("support", "tutor"), ttl: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ kind: fc.constant("renew" as const), owner: fc.nat(1), pick: fc.nat(4), ttl: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ kind: fc.constant("release" as const), owner: fc.nat(1), pick: fc.nat(4) }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 6_000 }) }),
);

/** Besides the commands above: a restart, and a burst of takes for one owner sent at once from two stores. */
type FleetCommand = Command | { kind: "restart" } | { kind: "burst"; owner: number; profile: string; count: number; ttl: number };

/**
 * Lease lengths of ten seconds and more: a store may also drop what lapsed by the backend's own
 * clock (Deno KV's `expireIn`, swept when a handle opens), which runs on while the test's clock
 * stands still, so a lease must outlast the real time a run takes. The clock steps are as long.
 */
const fleetTtl = fc.integer({ min: 10_000, max: 100_000 });
const fleetCommandArbitrary: fc.Arbitrary<FleetCommand> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("take" as const), owner: fc.nat(1), profile: fc.constantFrom("support", "tutor"), ttl: fleetTtl }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("renew" as const), owner: fc.nat(1), pick: fc.nat(4), ttl: fleetTtl }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("release" as const), owner: fc.nat(1), pick: fc.nat(4) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 60_000 }) }), weight: 2 },
  { arbitrary: fc.constant({ kind: "restart" as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("burst" as const), owner: fc.nat(1), profile: fc.constantFrom("support", "tutor"), count: fc.integer({ min: 2, max: 6 }), ttl: fleetTtl }), weight: 2 },
);

/** The model: per owner, each lease's profile and the time it lapses. */
type Model = Map<string, Map<string, { profile: string; until: number }>>;

function live(model: Model, owner: string, at: number) {
  const leases = model.get(owner) ?? new Map();
  const lapsed: string[] = [];
  for (const [id, lease] of leases) {
    if (lease.until <= at) {
      leases.delete(id);
      lapsed.push(lease.profile);
    }
  }
  model.set(owner, leases);
  return { leases, lapsed };
}

const sorted = (values: string[]) => [...values].sort();

export function leaseStoreContract(name: string, makeStore: LeaseStoreFactory, options: LeaseContractOptions): void {
  const { test } = options;
  let run = 0;
  const fresh = async () => {
    const clock: Clock = { now: START };
    const backend = `b${++run}`;
    return { clock, backend, store: await makeStore(clock, backend) };
  };

  test(`${name} leases: agree with the model over random takes, renewals, releases and lapses`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArbitrary, { minLength: 1, maxLength: 30 }), async (commands) => {
        const { clock, store } = await fresh();
        const model: Model = new Map();
        const owners = [`owner-${++run}-a`, `owner-${run}-b`];
        const lapsedSeen: string[] = [];
        const lapsedModel: string[] = [];
        let nextId = 0;
        for (const command of commands) {
          if (command.kind === "advance") {
            clock.now += command.ms;
            continue;
          }
          const owner = owners[command.owner]!;
          const { leases, lapsed } = live(model, owner, clock.now);
          lapsedModel.push(...lapsed);
          if (command.kind === "take") {
            const id = `lease${++nextId}`;
            const decision = await store.takeLease(owner, id, command.profile, LIMIT, command.ttl);
            lapsedSeen.push(...decision.lapsed);
            assert.ok(decision.held <= LIMIT, `held ${decision.held}`);
            if (leases.size < LIMIT) {
              assert.equal(decision.taken, true, "a take under the limit is admitted");
              leases.set(id, { profile: command.profile, until: clock.now + command.ttl });
              assert.equal(decision.held, leases.size);
            } else {
              assert.equal(decision.taken, false, "a take at the limit is refused");
              const earliest = Math.min(...[...leases.values()].map((lease) => lease.until));
              assert.ok(!decision.taken && decision.retryAfterMs === earliest - clock.now, "retryAfterMs is when the earliest lease lapses");
            }
          } else {
            const ids = [...leases.keys()];
            // A pick past the live leases names one that is gone (or never was).
            const id = ids[command.pick] ?? `gone${command.pick}`;
            const profile = leases.get(id)?.profile ?? "support";
            if (command.kind === "renew") {
              const { renewed, lapsed: swept } = await store.renewLease(owner, id, profile, command.ttl);
              lapsedSeen.push(...swept);
              assert.equal(renewed, leases.has(id));
              if (leases.has(id)) leases.get(id)!.until = clock.now + command.ttl;
            } else {
              const { released, lapsed: swept } = await store.releaseLease(owner, id, profile);
              lapsedSeen.push(...swept);
              assert.equal(released, leases.has(id));
              leases.delete(id);
            }
          }
          assert.equal(await store.leaseCount(owner), leases.size, "the count after each step");
        }
        // Every lapse the store swept was a real one, reported once.
        assert.deepEqual(sorted(lapsedSeen), sorted(lapsedModel));
        const counts = { support: 0, tutor: 0 };
        for (const owner of owners) for (const lease of live(model, owner, clock.now).leases.values()) counts[lease.profile as keyof typeof counts]++;
        assert.deepEqual(await store.activeLeases(["support", "tutor"]), counts);
      }),
      { numRuns: options.runs },
    );
  });

  test(`${name} leases: agree with the model across restarts and bursts of concurrent takes from two stores on one backend`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fleetCommandArbitrary, { minLength: 1, maxLength: 30 }), async (commands) => {
        const fleet = await fresh();
        const { clock } = fleet;
        let store = fleet.store;
        // A second server on the same data, for the bursts.
        const peer = await makeStore(clock, fleet.backend);
        const model: Model = new Map();
        const owners = [`fleet-${run}-a`, `fleet-${run}-b`];
        const lapsedSeen: string[] = [];
        const lapsedModel: string[] = [];
        let nextId = 0;
        for (const command of commands) {
          if (command.kind === "advance") {
            clock.now += command.ms;
            continue;
          }
          if (command.kind === "restart") {
            store = await makeStore(clock, fleet.backend);
            continue;
          }
          const owner = owners[command.owner]!;
          const { leases, lapsed } = live(model, owner, clock.now);
          lapsedModel.push(...lapsed);
          if (command.kind === "burst") {
            const ids = Array.from({ length: command.count }, () => `lease${++nextId}`);
            const decisions = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? store : peer).takeLease(owner, id, command.profile, LIMIT, command.ttl)));
            for (const decision of decisions) lapsedSeen.push(...decision.lapsed);
            const before = leases.size;
            const admitted = Math.max(0, Math.min(command.count, LIMIT - before));
            assert.equal(decisions.filter((decision) => decision.taken).length, admitted, "a burst admits up to the limit, no more");
            // In whatever order they were decided, the admitted ones saw the count rise one by one.
            assert.deepEqual(
              decisions.filter((decision) => decision.taken).map((decision) => decision.held).sort((a, b) => a - b),
              Array.from({ length: admitted }, (_, i) => before + i + 1),
            );
            decisions.forEach((decision, i) => decision.taken && leases.set(ids[i]!, { profile: command.profile, until: clock.now + command.ttl }));
            const earliest = Math.min(...[...leases.values()].map((lease) => lease.until));
            for (const decision of decisions) {
              if (decision.taken) continue;
              assert.equal(decision.held, LIMIT);
              assert.ok(decision.retryAfterMs === earliest - clock.now, "a refusal in a burst names when the earliest lease lapses");
            }
          } else if (command.kind === "take") {
            const id = `lease${++nextId}`;
            const decision = await store.takeLease(owner, id, command.profile, LIMIT, command.ttl);
            lapsedSeen.push(...decision.lapsed);
            assert.equal(decision.taken, leases.size < LIMIT);
            if (decision.taken) leases.set(id, { profile: command.profile, until: clock.now + command.ttl });
            assert.equal(decision.held, leases.size);
          } else {
            const ids = [...leases.keys()];
            const id = ids[command.pick] ?? `gone${command.pick}`;
            const profile = leases.get(id)?.profile ?? "support";
            const answer = command.kind === "renew" ? await store.renewLease(owner, id, profile, command.ttl) : await store.releaseLease(owner, id, profile);
            lapsedSeen.push(...answer.lapsed);
            assert.equal("renewed" in answer ? answer.renewed : answer.released, leases.has(id));
            if (command.kind === "renew" && leases.has(id)) leases.get(id)!.until = clock.now + command.ttl;
            if (command.kind === "release") leases.delete(id);
          }
          // Both servers see the same count after each step.
          assert.equal(await store.leaseCount(owner), leases.size, "the count after each step");
          assert.equal(await peer.leaseCount(owner), leases.size, "the other server's count after each step");
        }
        assert.deepEqual(sorted(lapsedSeen), sorted(lapsedModel));
        const counts = { support: 0, tutor: 0 };
        for (const owner of owners) for (const lease of live(model, owner, clock.now).leases.values()) counts[lease.profile as keyof typeof counts]++;
        assert.deepEqual(await store.activeLeases(["support", "tutor"]), counts);
      }),
      { numRuns: options.runs },
    );
  });

  test(`${name} leases: of 40 concurrent takes for one user, exactly the limit are admitted`, async () => {
    const { store } = await fresh();
    const owner = `burst-${++run}`;
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => store.takeLease(owner, `l${i}`, "support", LIMIT, 60_000)));
    assert.equal(decisions.filter((decision) => decision.taken).length, LIMIT);
    assert.equal(await store.leaseCount(owner), LIMIT);
  });

  test(`${name} leases: a release frees a slot at once, and a lapse by itself`, async () => {
    const { clock, store } = await fresh();
    const owner = `free-${++run}`;
    assert.equal((await store.takeLease(owner, "a", "support", 1, 1_000)).taken, true);
    const refused = await store.takeLease(owner, "b", "support", 1, 1_000);
    assert.equal(refused.taken, false);
    assert.ok(!refused.taken && refused.retryAfterMs === 1_000);
    assert.equal((await store.releaseLease(owner, "a", "support")).released, true);
    assert.equal((await store.takeLease(owner, "b", "support", 1, 1_000)).taken, true);
    clock.now += 1_000;
    const after = await store.takeLease(owner, "c", "tutor", 1, 1_000);
    assert.equal(after.taken, true);
    assert.deepEqual(after.lapsed, ["support"]);
    assert.deepEqual(await store.activeLeases(["support", "tutor"]), { support: 0, tutor: 1 });
  });

  test(`${name} leases: keys hold the owner and the lease as given, whatever they are`, async () => {
    const { store } = await fresh();
    for (const owner of ["a:b", "ü{x}", "x".repeat(64)]) {
      assert.equal((await store.takeLease(owner, "id-1", "support", 1, 60_000)).taken, true);
      assert.equal(await store.leaseCount(owner), 1);
    }
  });

  test(`${name} lock: one of many concurrent holders takes it, and it is free again once released or lapsed`, async () => {
    const { clock, store } = await fresh();
    if (!store.acquireLock || !store.releaseLock) return;
    const key = `key-${++run}`;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => store.acquireLock!(key, `h${i}`, 60_000)));
    const winners = answers.filter((answer) => answer.taken);
    assert.equal(winners.length, 1);
    const winner = winners[0]!.holder!;
    for (const answer of answers) assert.equal(answer.holder, winner);
    // Only the holder lets go.
    await store.releaseLock(key, "not-the-holder");
    assert.equal((await store.acquireLock(key, "late", 60_000)).holder, winner);
    await store.releaseLock(key, winner);
    assert.equal((await store.acquireLock(key, "next", 50)).taken, true);
    // Past the TTL on the store's clock and on the backend's own.
    clock.now += 120;
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal((await store.acquireLock(key, "after-lapse", 60_000)).taken, true);
  });
}
