/// <reference lib="deno.ns" />
/// <reference lib="deno.unstable" />
/**
 * The Deno KV store under Deno itself (`deno test --unstable-kv`), with the same property checks as
 * the other stores. test/deno-kv.test.ts runs this file from vitest with the `deno` package's binary.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { denoKvStore } from "../adapters/deno-kv.ts";
import { createRateLimiter } from "../src/rate-limit/index.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { retryArbitrary, runRetryAfter, runScenario, scenarioArbitrary, type StoreFactory } from "./rate-limit-harness.ts";

const rule: RateLimitRule = { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 };

Deno.test("never admits more than an algorithm allows, under concurrent traffic and clock steps", async () => {
  const kv = await Deno.openKv(":memory:");
  let run = 0;
  const onKv: StoreFactory = (clock) => denoKvStore({ kv, prefix: `p${++run}`, now: () => clock.now });
  try {
    await fc.assert(fc.asyncProperty(scenarioArbitrary, (scenario) => runScenario(onKv, scenario, "k")), { numRuns: 100 });
    await fc.assert(fc.asyncProperty(retryArbitrary, (input) => runRetryAfter(onKv, input, "k")), { numRuns: 60 });
  } finally {
    kv.close();
  }
});

Deno.test("admits exactly the limit across two handles on one KV file, as two processes would", async () => {
  const directory = await Deno.makeTempDir();
  const path = `${directory}/limits.sqlite3`;
  const first = await Deno.openKv(path);
  const second = await Deno.openKv(path);
  try {
    const stores = [denoKvStore({ kv: first }), denoKvStore({ kv: second })];
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 2]!.consume("user:abc", rule, 1)));
    assert.equal(decisions.filter((d) => d.allowed).length, 10);
    assert.equal(decisions.filter((d) => !d.allowed).length, 50);
  } finally {
    first.close();
    second.close();
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("fails a decision it cannot commit, and the limiter's policy answers", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // A KV whose every commit loses the race, as under endless contention.
    const losing = { get: kv.get.bind(kv), set: kv.set.bind(kv), delete: kv.delete.bind(kv), atomic: () => {
      const atomic = kv.atomic();
      const wrapped = { check: () => wrapped, set: () => wrapped, commit: () => Promise.resolve({ ok: false }) };
      void atomic;
      return wrapped;
    } };
    const store = denoKvStore({ kv: losing, maxAttempts: 3 });
    await assert.rejects(store.consume("k", rule, 1), /gave up after 3 attempts/);
    const limiter = createRateLimiter({ store, onStoreError: "closed" });
    await assert.rejects(limiter.check({ user: { id: "alice" } }), (error: Error & { code?: string }) => error.code === "store_unavailable");
  } finally {
    kv.close();
  }
});

Deno.test("caches JSON values with an expiry of their own, and deletes", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 1_000_000;
    const store = denoKvStore({ kv, now: () => now });
    await store.set("abc", { token: "t", n: [1, 2] }, 5_000);
    assert.deepEqual(await store.get("abc"), { token: "t", n: [1, 2] });
    now += 5_000;
    assert.equal(await store.get("abc"), undefined);
    await store.set("def", "v", 60_000);
    await store.delete("def");
    assert.equal(await store.get("def"), undefined);
    await store.set("gone", "v", 0);
    assert.equal(await store.get("gone"), undefined);
    // A key holds the prefix and tollgate's own key, nothing else.
    await store.set("xyz", 1, 60_000);
    const keys = [];
    for await (const entry of kv.list({ prefix: ["tollgate", "cache"] })) keys.push(entry.key);
    assert.deepEqual(keys.at(-1), ["tollgate", "cache", "xyz"]);
  } finally {
    kv.close();
  }
});

Deno.test("rejects bad options and rules with clear errors", async () => {
  assert.throws(() => denoKvStore({ kv: undefined as never }), /open Deno.Kv/);
  const kv = await Deno.openKv(":memory:");
  try {
    const store = denoKvStore({ kv });
    await assert.rejects(store.consume("k", { ...rule, limit: 0 }, 1), /limit must be a positive integer/);
  } finally {
    kv.close();
  }
});
