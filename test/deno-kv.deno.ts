/// <reference lib="deno.ns" />
/// <reference lib="deno.unstable" />
/**
 * The Deno KV store under Deno itself (`deno test --unstable-kv`): the store contract every store
 * passes (test/stores/), then what only Deno KV does. test/deno-kv.test.ts runs this file from
 * vitest with the `deno` package's binary.
 */
import assert from "node:assert/strict";
import { DenoKvContentionError, denoKvStore } from "../adapters/deno-kv.ts";
import { OptionError, TollgateError } from "../src/errors.ts";
import { createRateLimiter } from "../src/rate-limit/index.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";
import { cacheStoreContract, type Register } from "./stores/cache-contract.ts";
import { rateLimitStoreContract } from "./stores/rate-limit-contract.ts";

const rule: RateLimitRule = { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 };

// Each contract case gets KV handles of its own, closed when it ends, as Deno's resource check asks.
const opened: Deno.Kv[] = [];
const test: Register = (name, body) =>
  Deno.test(name, async () => {
    try {
      await body();
    } finally {
      for (const kv of opened.splice(0)) kv.close();
    }
  });
let stores = 0;
async function onKv(now: () => number) {
  const kv = await Deno.openKv(":memory:");
  opened.push(kv);
  return denoKvStore({ kv, prefix: `p${++stores}`, now });
}

cacheStoreContract("deno-kv", (clock) => onKv(() => clock.now), { test, expiresOnClock: true });
rateLimitStoreContract("deno-kv", (clock) => onKv(() => clock.now), { test, mode: "atomic", propertyRuns: { scenarios: 100, retries: 60 } });

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
      const wrapped = { check: () => wrapped, set: () => wrapped, commit: () => Promise.resolve({ ok: false }) };
      return wrapped;
    } };
    const store = denoKvStore({ kv: losing, maxAttempts: 3 });
    await assert.rejects(store.consume("k", rule, 1), (error: unknown) => {
      assert.ok(error instanceof DenoKvContentionError && error instanceof TollgateError);
      assert.equal(error.code, "store_unavailable");
      assert.match(error.message, /gave up after 3 attempts/);
      return true;
    });
    const limiter = createRateLimiter({ store, onStoreError: "closed" });
    await assert.rejects(limiter.check({ user: { id: "alice" } }), (error: Error & { code?: string }) => error.code === "store_unavailable");
  } finally {
    kv.close();
  }
});

Deno.test("keys entries by the prefix, once, and the caller's key as it is", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = denoKvStore({ kv });
    await store.set("reuse:0123abcd", 1, 60_000);
    await store.consume("user:0123abcd", rule, 1);
    const keys = [];
    for await (const entry of kv.list({ prefix: ["tollgate"] })) keys.push(entry.key);
    assert.deepEqual(keys, [
      ["tollgate", "cache", "reuse:0123abcd"],
      ["tollgate", "rl", "user:0123abcd", "fixed-window"],
    ]);
  } finally {
    kv.close();
  }
});

Deno.test("rejects bad options with an OptionError naming the option", () => {
  const refusedFor = (option: RegExp) => (error: unknown) => error instanceof OptionError && error.code === "invalid_option" && option.test(error.message);
  assert.throws(() => denoKvStore({ kv: undefined as never }), refusedFor(/^denoKvStore: kv: must be an open Deno.Kv/));
  const kv = { get() {}, set() {}, delete() {}, atomic() {} } as never;
  for (const prefix of ["", "a b", "a{b}", "x".repeat(65), 42]) assert.throws(() => denoKvStore({ kv, prefix: prefix as never }), refusedFor(/^denoKvStore: prefix: /));
  assert.throws(() => denoKvStore({ kv, maxAttempts: 0 }), refusedFor(/^denoKvStore: maxAttempts: /));
});
