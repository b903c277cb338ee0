/// <reference lib="deno.ns" />
/// <reference lib="deno.unstable" />
/**
 * The lease contract (lease-contract.ts) on the Deno KV store under Deno itself, and leases taken
 * through two handles on one KV file, as two processes would. Run by deno-kv.test.ts.
 */
import assert from "node:assert/strict";
import { denoKvStore } from "../../adapters/deno-kv.ts";
import type { Register } from "../stores/cache-contract.ts";
import { leaseStoreContract } from "./lease-contract.ts";

const opened: Deno.Kv[] = [];
const directory = await Deno.makeTempDir();
const test: Register = (name, body) =>
  Deno.test(name, async () => {
    try {
      await body();
    } finally {
      for (const kv of opened.splice(0)) kv.close();
    }
  });
// Each backend a KV file; each store on it a handle of its own, as each server (or a restarted one)
// has. The handles of the backend before are closed when the next one opens: runs go one by one.
let backendOpen: string | undefined;

leaseStoreContract(
  "deno-kv",
  async (clock, backend) => {
    if (backend !== backendOpen) {
      for (const kv of opened.splice(0)) kv.close();
      backendOpen = backend;
    }
    const kv = await Deno.openKv(`${directory}/${backend}.sqlite3`);
    opened.push(kv);
    return denoKvStore({ kv, now: () => clock.now, maxAttempts: 64 });
  },
  { test, runs: 60 },
);

Deno.test("deno-kv leases: clean up the KV files", async () => {
  for (const kv of opened.splice(0)) kv.close();
  await Deno.remove(directory, { recursive: true });
});

Deno.test("deno-kv leases: two handles on one KV file admit exactly the limit between them", async () => {
  const directory = await Deno.makeTempDir();
  const first = await Deno.openKv(`${directory}/leases.sqlite3`);
  const second = await Deno.openKv(`${directory}/leases.sqlite3`);
  try {
    const stores = [denoKvStore({ kv: first, maxAttempts: 64 }), denoKvStore({ kv: second, maxAttempts: 64 })];
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 2]!.takeLease("owner", `l${i}`, "support", 2, 60_000)));
    assert.equal(decisions.filter((decision) => decision.taken).length, 2);
    assert.equal(await stores[1]!.leaseCount("owner"), 2);
    assert.deepEqual(await stores[0]!.activeLeases(["support"]), { support: 2 });
    const locks = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.acquireLock("key", `h${i}`, 60_000)));
    assert.equal(locks.filter((lock) => lock.taken).length, 1);
  } finally {
    first.close();
    second.close();
    await Deno.remove(directory, { recursive: true });
  }
});
