/**
 * The embedded cache's `set` when it is full (each set makes room by dropping the oldest entry)
 * against the same set on a cache that still has room, at 10 000 and 250 000 entries (the default
 * bound). Entries come in pairs as the issuer writes them: a record linked to its reuse entry.
 *
 *   npx tsx bench/memory-cache.ts
 *   SETS=500000 ROUNDS=5 npx tsx bench/memory-cache.ts
 *
 * Each round fills a fresh cache, then times SETS sets of new keys; the median round is reported,
 * in µs per set.
 */
import { cpus, totalmem } from "node:os";
import process from "node:process";
import { memoryCache } from "../src/store/memory-cache.ts";

const SETS = Number(process.env.SETS ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const LONG = 3_600_000;

/** Sets `count` record and reuse pairs, from pair number `from` on. */
async function setPairs(cache: ReturnType<typeof memoryCache>, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await cache.set(`token:${i}`, { owner: "o", reuseKey: `reuse:${i}` }, LONG, `reuse:${i}`);
    await cache.set(`reuse:${i}`, { token: `t${i}`, dependsOn: `token:${i}` }, LONG / 2);
  }
}

/** µs per set of SETS new entries on a cache of `bound` entries, full or with room for all of them. */
async function round(bound: number, full: boolean): Promise<number> {
  // A cache with room keeps its bound far above what the round adds, so no set there evicts.
  const cache = memoryCache({ maxEntries: full ? bound : bound + SETS });
  await setPairs(cache, 0, bound / 2);
  const started = performance.now();
  await setPairs(cache, bound / 2, SETS / 2);
  const elapsed = performance.now() - started;
  if (full && cache.size > bound) throw new Error("the cache went past its bound");
  return (elapsed * 1000) / SETS;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

console.log(`Node ${process.versions.node}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; ${SETS} sets a round, median of ${ROUNDS} rounds`);
console.log("| entries | with room, µs per set | full, µs per set | full / with room |");
console.log("| ---: | ---: | ---: | ---: |");
for (const bound of [10_000, 250_000]) {
  const roomy: number[] = [];
  const full: number[] = [];
  // Alternate, so that neither case always runs on a warmer or colder process.
  for (let r = 0; r < ROUNDS; r++) {
    roomy.push(await round(bound, false));
    full.push(await round(bound, true));
  }
  const [a, b] = [median(roomy), median(full)];
  console.log(`| ${bound.toLocaleString("en")} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b / a).toFixed(2)}x |`);
}
