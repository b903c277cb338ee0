/**
 * What only the embedded memory cache promises, beyond the contract it shares with every store
 * (contract.test.ts): how it makes room, which it does in constant time per operation.
 */
import { describe, expect, it } from "vitest";
import { OptionError } from "../../src/errors.ts";
import { memoryCache } from "../../src/store/memory-cache.ts";

const LONG = 3_600_000;

describe("memory cache", () => {
  it("when full, drops the oldest-inserted entry: reads do not reorder, overwrites do", async () => {
    const store = memoryCache({ maxEntries: 100 });
    for (let i = 0; i < 100; i++) await store.set(`k${i}`, i, LONG);
    expect(await store.get("k0")).toBe(0);
    await store.set("k100", 100, LONG);
    expect(store.size).toBe(100);
    expect(await store.get("k0")).toBeUndefined();
    for (let i = 1; i <= 100; i++) expect(await store.get(`k${i}`)).toBe(i);
    await store.set("k1", "again", LONG);
    await store.set("k101", 101, LONG);
    expect(await store.get("k2")).toBeUndefined();
    expect(await store.get("k1")).toBe("again");
    for (let i = 3; i <= 101; i++) expect(await store.get(`k${i}`)).toBe(i);
  });

  it("makes room for a set by dropping one entry, not by looking through every other for expired ones", async () => {
    let now = 0;
    const store = memoryCache({ maxEntries: 1_000, now: () => now });
    for (let i = 0; i < 500; i++) await store.set(`live${i}`, i, LONG);
    for (let i = 0; i < 500; i++) await store.set(`brief${i}`, i, 10);
    now = 10;
    // A sweep would have emptied the 500 expired slots; here exactly the oldest entry goes.
    await store.set("next0", 0, LONG);
    expect(store.size).toBe(1_000);
    expect(await store.get("live0")).toBeUndefined();
    for (let i = 1; i < 500; i++) expect(await store.get(`live${i}`)).toBe(i);
    expect(await store.get("next0")).toBe(0);
    // Every live entry newer than the dropped one is still there, and the store stays correct.
    for (let i = 1; i < 300; i++) await store.set(`next${i}`, i, LONG);
    expect(store.size).toBe(1_000);
    for (let i = 300; i < 500; i++) expect(await store.get(`live${i}`)).toBe(i);
    for (let i = 0; i < 300; i++) expect(await store.get(`next${i}`)).toBe(i);
  });

  it("keeps dropping the oldest live entry first after many deletes and re-sets", async () => {
    // A model of insertion order beside the cache: each set appends a key (re-setting moves it to
    // the end), each delete removes it; when full, the model's first key is the one to go.
    const bound = 50;
    const store = memoryCache({ maxEntries: bound });
    const model: string[] = [];
    const set = async (key: string) => {
      await store.set(key, key, LONG);
      if (model.includes(key)) model.splice(model.indexOf(key), 1);
      if (model.length >= bound) model.shift();
      model.push(key);
    };
    const remove = async (key: string) => {
      await store.delete(key);
      if (model.includes(key)) model.splice(model.indexOf(key), 1);
    };
    let seed = 7;
    const pick = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    for (let i = 0; i < 5_000; i++) {
      const roll = pick(10);
      if (roll < 5) await set(`k${i}`);
      else if (roll < 8) await remove(`k${pick(i + 1)}`);
      else await set(`k${pick(i + 1)}`);
      if (i % 250 === 249) {
        expect(store.size).toBe(model.length);
        for (const key of model) expect(await store.get(key), key).toBe(key);
      }
    }
    // Filling up with new keys drops the rest in the order the model holds them, oldest first.
    for (let i = 0; model.length < bound; i++) await set(`top-up-${i}`);
    for (const expected of [...model]) {
      await set(`fill-${expected}`);
      expect(await store.get(expected), expected).toBeUndefined();
      expect(store.size).toBe(bound);
    }
  });

  it("drops an expired entry when it is read, with the entry it links to", async () => {
    let now = 0;
    const store = memoryCache({ now: () => now });
    await store.set("token:t", { owner: "u" }, 100, "reuse:t");
    await store.set("reuse:t", { token: "t" }, 1_000);
    await store.set("token:other", 1, 100);
    expect(store.size).toBe(3);
    now = 100;
    expect(await store.get("token:t")).toBeUndefined();
    expect(store.size).toBe(1);
    expect(await store.get("reuse:t")).toBeUndefined();
    expect(await store.get("token:other")).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it("drops a linked entry when its record is evicted, and follows a chain of links to its end", async () => {
    const store = memoryCache({ maxEntries: 4 });
    await store.set("a", 1, LONG, "b");
    await store.set("b", 2, LONG, "c");
    await store.set("c", 3, LONG, "a");
    await store.set("d", 4, LONG);
    await store.set("e", 5, LONG);
    expect(store.size).toBe(2);
    expect([await store.get("a"), await store.get("b"), await store.get("c")]).toEqual([undefined, undefined, undefined]);
    expect([await store.get("d"), await store.get("e")]).toEqual([4, 5]);
  });

  it("deletes only the key it is asked to, and replacing an entry keeps what it linked to", async () => {
    const store = memoryCache();
    await store.set("token:t", 1, LONG, "reuse:t");
    await store.set("reuse:t", 2, LONG);
    await store.set("token:t", 3, LONG);
    await store.delete("token:t");
    expect(await store.get("reuse:t")).toBe(2);
  });

  it("holds 100 000 live tokens at two entries each by default, and refuses a bound it cannot keep", async () => {
    const store = memoryCache();
    for (let i = 0; i < 100_000; i++) {
      await store.set(`token:${i}`, i, LONG, `reuse:${i}`);
      await store.set(`reuse:${i}`, i, LONG);
    }
    expect(store.size).toBe(200_000);
    expect(await store.get("token:0")).toBe(0);
    expect(await store.get("reuse:0")).toBe(0);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => memoryCache({ maxEntries: bad })).toThrow(OptionError);
      expect(() => memoryCache({ maxEntries: bad })).toThrow(/^memoryCache: maxEntries: /);
    }
  });
});
