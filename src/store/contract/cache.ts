/**
 * The contract every CacheStore keeps: what `get`, `set` and `delete` promise, expiry, keys with
 * unusual characters, and `getDependent` (through `getDependent` of ./dependent.ts, so that a store
 * without its own is held to the two-read one). See ./index.ts.
 */
import { getDependent } from "../dependent.ts";
import type { CacheStore } from "../types.ts";
import { deepEqual, equal, ok } from "./assert.ts";
import type { Clock, ContractCase } from "./index.ts";

/** A fresh store, with keys no other store from this factory sees, reading `clock` where it can. */
export type CacheStoreFactory = (clock: Clock) => CacheStore | Promise<CacheStore>;

export interface CacheContractOptions {
  /**
   * True when the store's expiry reads the factory's clock (an envelope store, as
   * tollgate/unstorage and tollgate/deno-kv are); false when the backend expires entries on its
   * own clock (Redis TTLs), so the cases wait in real time.
   */
  expiresOnClock: boolean;
  /**
   * For a store that drops entries before their TTL (an LRU, a bounded memory store): a fresh one
   * that holds at most `maxEntries`. Its cases show that a reuse entry is no hit once its record
   * was dropped.
   */
  bounded?: (maxEntries: number, clock: Clock) => CacheStore | Promise<CacheStore>;
}

const START = 1_750_000_000_000;
/** Longer than any case takes, so that only the expiry cases see an entry expire. */
const LONG = 10 * 60_000;

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keys the way tollgate writes them, and ones a store might mangle. */
export const UNUSUAL_KEYS = [
  "reuse:0123456789abcdef0123456789abcdef",
  "token:0123456789abcdef0123456789abcdef",
  "lease:anam:0123abcd",
  "a:b",
  "a::b",
  "a/b",
  "a\\b",
  ":leading",
  "trailing:",
  "q?x=1",
  "q?x=2",
  "#fragment",
  "100%",
  "%41",
  "A",
  "with space",
  "tab\there",
  "{hash}tag",
  "}{",
  ".",
  "..",
  "a:.:b",
  "dots.in.key",
  "quote'\"`",
  "ключ",
  "名前 😀",
  "x".repeat(300),
];

/** JSON values of every shape; each must read back as JSON.parse(JSON.stringify(value)). */
const VALUES: Array<[string, unknown]> = [
  ["an object", { token: "t", expiresAt: 1_750_000_000_000, used: false, nested: { list: [1, "two", null, true] } }],
  ["an array", [1, 2, [3, { four: 4 }]]],
  ["a string", "session token ✓ 😀 \"quoted\" \\ \n"],
  ["an empty string", ""],
  ["zero", 0],
  ["a negative fraction", -12.5],
  ["a large integer", Number.MAX_SAFE_INTEGER],
  ["true", true],
  ["false", false],
  ["null", null],
  ["an empty object", {}],
];

export function cacheStoreContract(makeStore: CacheStoreFactory, options: CacheContractOptions): ContractCase[] {
  const cases: ContractCase[] = [];
  const add = (name: string, run: () => Promise<void>) => cases.push({ name, run });
  const fresh = async () => {
    const clock: Clock = { now: START };
    return { clock, store: await makeStore(clock) };
  };
  /** Lets `ms` pass for the store: on its clock, or in real time with room for the backend to act. */
  const pass = async (clock: Clock, ms: number) => {
    clock.now += ms;
    if (!options.expiresOnClock) await sleep(ms + 100);
  };

  add("an absent key reads as undefined, and deleting it is no error", async () => {
    const { store } = await fresh();
    equal(await store.get("token:never-set"), undefined);
    await store.delete("token:never-set");
    equal(await store.get("token:never-set"), undefined);
  });

  add("gets what was set, until it is deleted", async () => {
    const { store } = await fresh();
    await store.set("token:abc", { owner: "u1" }, LONG);
    deepEqual(await store.get("token:abc"), { owner: "u1" });
    await store.delete("token:abc");
    equal(await store.get("token:abc"), undefined);
    await store.set("token:abc", { owner: "u2" }, LONG);
    deepEqual(await store.get("token:abc"), { owner: "u2" });
  });

  add("values round-trip as JSON", async () => {
    const { store } = await fresh();
    for (const [label, value] of VALUES) await store.set(`value:${label}`, value, LONG);
    for (const [label, value] of VALUES) {
      deepEqual(await store.get(`value:${label}`), JSON.parse(JSON.stringify(value)), label);
    }
  });

  add("a set overwrites the value and the TTL", async () => {
    const { clock, store } = await fresh();
    await store.set("token:o", 1, LONG);
    await store.set("token:o", { second: true }, LONG);
    deepEqual(await store.get("token:o"), { second: true });
    // A shorter TTL replaces the longer one, and a longer one the shorter.
    await store.set("token:o", "short", 50);
    await store.set("token:p", "short", 50);
    await store.set("token:p", "long", LONG);
    await pass(clock, 50);
    equal(await store.get("token:o"), undefined);
    equal(await store.get("token:p"), "long");
  });

  add("an entry expires after its TTL", async () => {
    const { clock, store } = await fresh();
    await store.set("reuse:short", { token: "t" }, 50);
    await store.set("token:long", { token: "t" }, LONG);
    if (options.expiresOnClock) {
      clock.now += 49;
      deepEqual(await store.get("reuse:short"), { token: "t" });
      clock.now -= 49;
    }
    await pass(clock, 50);
    equal(await store.get("reuse:short"), undefined);
    deepEqual(await store.get("token:long"), { token: "t" });
    // Read again: an expired entry stays absent however often it is asked for.
    equal(await store.get("reuse:short"), undefined);
  });

  add("a TTL below 1 ms leaves the key absent, and removes what was there", async () => {
    const { store } = await fresh();
    await store.set("token:zero", "v", 0);
    await store.set("token:negative", "v", -5);
    await store.set("token:nan", "v", Number.NaN);
    await store.set("token:replaced", "v", LONG);
    await store.set("token:replaced", "w", 0);
    for (const key of ["token:zero", "token:negative", "token:nan", "token:replaced"]) equal(await store.get(key), undefined, key);
  });

  add("keys with unusual characters are kept apart", async () => {
    const { store } = await fresh();
    await Promise.all(UNUSUAL_KEYS.map((key, i) => store.set(key, { i, key }, LONG)));
    for (const [i, key] of UNUSUAL_KEYS.entries()) deepEqual(await store.get(key), { i, key }, JSON.stringify(key));
    await store.delete("a/b");
    equal(await store.get("a/b"), undefined);
    deepEqual(await store.get("a:b"), { i: UNUSUAL_KEYS.indexOf("a:b"), key: "a:b" });
  });

  add("a set with a linked key stores the entry, and the linked one as it was", async () => {
    const { store } = await fresh();
    await store.set("token:rec", { owner: "u" }, LONG, "reuse:r");
    await store.set("reuse:r", { token: "rec" }, LONG / 2);
    deepEqual(await store.get("token:rec"), { owner: "u" });
    deepEqual(await store.get("reuse:r"), { token: "rec" });
    // Re-setting the record, as a usage report does, keeps both.
    await store.set("token:rec", { owner: "u", used: true }, LONG, "reuse:r");
    deepEqual(await store.get("token:rec"), { owner: "u", used: true });
    deepEqual(await store.get("reuse:r"), { token: "rec" });
  });

  add("a dependent entry reads as a hit only while the entry it names is there", async () => {
    const { store } = await fresh();
    // The issuer's order: the token's record, then its reuse entry naming the record.
    await store.set("token:rec", { owner: "u" }, LONG, "reuse:r");
    await store.set("reuse:r", { token: "rec", dependsOn: "token:rec" }, LONG / 2);
    deepEqual(await getDependent(store, "reuse:r"), { token: "rec", dependsOn: "token:rec" });
    // The record goes (deleted here, evicted elsewhere): the reuse entry is no hit, and is gone.
    await store.delete("token:rec");
    equal(await getDependent(store, "reuse:r"), undefined);
    equal(await store.get("reuse:r"), undefined);
    // An entry that names nothing, or a key never set, is no hit either.
    await store.set("reuse:bare", { token: "bare" }, LONG);
    await store.set("reuse:dangling", { token: "d", dependsOn: "token:never-set" }, LONG);
    equal(await getDependent(store, "reuse:bare"), undefined);
    equal(await getDependent(store, "reuse:dangling"), undefined);
    equal(await getDependent(store, "reuse:never-set"), undefined);
    // The named key is the caller's own, with unusual characters kept as they are.
    await store.set("token:a/b?c", { owner: "u" }, LONG);
    await store.set("reuse:odd", { token: "odd", dependsOn: "token:a/b?c" }, LONG);
    deepEqual(await getDependent(store, "reuse:odd"), { token: "odd", dependsOn: "token:a/b?c" });
  });

  add("a dependent entry whose named entry expired is no hit", async () => {
    const { clock, store } = await fresh();
    await store.set("token:brief", { owner: "u" }, 50);
    await store.set("reuse:b", { token: "brief", dependsOn: "token:brief" }, LONG);
    await pass(clock, 50);
    equal(await getDependent(store, "reuse:b"), undefined);
  });

  const { bounded } = options;
  if (!bounded) return cases;

  add("bounded: a reuse entry whose record was pushed out is no hit, however often it was read", async () => {
    const clock: Clock = { now: START };
    const store = await bounded(1_000, clock);
    // The issuer's order: the record first, naming its reuse entry, then the reuse entry naming it.
    const setPair = async (id: string) => {
      await store.set(`token:${id}`, { id }, LONG, `reuse:${id}`);
      await store.set(`reuse:${id}`, { token: id, dependsOn: `token:${id}` }, LONG / 2);
    };
    await setPair("old");
    for (let i = 0; i < 600; i++) {
      await setPair(`new${i}`);
      // A read of the reuse entry alone, which keeps it recently used in an LRU while its record is not.
      await store.get("reuse:old");
    }
    equal(await store.get("token:old"), undefined, "1 200 newer entries in a store of 1 000 never pushed the old record out");
    equal(await getDependent(store, "reuse:old"), undefined, "the reuse entry is a hit though its record is gone");
    // The newest pairs are whole.
    for (let i = 590; i < 600; i++) deepEqual(await getDependent(store, `reuse:new${i}`), { token: `new${i}`, dependsOn: `token:new${i}` });
  });

  add("bounded: holds no more than its bound, and the newest entries", async () => {
    const clock: Clock = { now: START };
    const store = await bounded(100, clock);
    for (let i = 0; i < 250; i++) await store.set(`k${i}`, i, LONG, i % 2 === 0 ? `k${i + 1}` : undefined);
    let present = 0;
    for (let i = 0; i < 250; i++) if ((await store.get(`k${i}`)) !== undefined) present++;
    ok(present <= 100, `${present} entries held, bound 100`);
    for (let i = 200; i < 250; i++) equal(await store.get(`k${i}`), i, `k${i}`);
  });
  return cases;
}
