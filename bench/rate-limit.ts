/**
 * Rate-limit decisions per second: tollgate's memory and Redis stores beside rate-limiter-flexible's
 * RateLimiterMemory and RateLimiterRedis, in one run on one machine, the Redis ones on one shared
 * ioredis client. Also counts the Redis commands each decision sends.
 *
 *   npx tsx bench/rate-limit.ts            (REDIS_URL defaults to redis://127.0.0.1:6379)
 *   BENCH_MS=1000 npx tsx bench/rate-limit.ts   (shorter)
 *
 * Each contender runs for BENCH_MS per round, rounds alternate between contenders so that neither
 * always runs warm or cold, and the best round is reported. Memory decisions are awaited one after
 * another; Redis decisions are kept CONCURRENCY in flight, as a busy server would.
 * Everything is bounded: about 30 s at the default BENCH_MS.
 */
import { cpus, totalmem } from "node:os";
import process from "node:process";
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import { redisStore } from "../adapters/redis.ts";
import { createRateLimiter } from "../src/rate-limit/index.ts";
import { memoryRateLimitStore } from "../src/rate-limit/memory-store.ts";
import type { RateLimitRule } from "../src/rate-limit/types.ts";

const BENCH_MS = Number(process.env.BENCH_MS ?? 1_500);
const ROUNDS = 2;
const CONCURRENCY = 50;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const HOUR_S = 3_600;

/** One decision; resolves whether admitted or refused. */
type Decide = (key: string) => Promise<unknown>;

interface Scenario {
  name: string;
  keys: string[];
  limit: number;
}

// Mostly admitted: many users, each far below the limit. Mostly refused: few users, all over it.
const SCENARIOS: Scenario[] = [
  { name: "mostly admitted", keys: Array.from({ length: 10_000 }, (_, i) => `user-${i}`), limit: 1_000_000 },
  { name: "mostly refused", keys: Array.from({ length: 100 }, (_, i) => `user-${i}`), limit: 10 },
];

async function sequential(decide: Decide, keys: string[], ms: number): Promise<number> {
  let count = 0;
  const deadline = performance.now() + ms;
  const started = performance.now();
  while (performance.now() < deadline) {
    // Check the clock every 256 decisions only; reading it is not free.
    for (let i = 0; i < 256; i++) await decide(keys[count++ % keys.length]!);
  }
  return count / ((performance.now() - started) / 1000);
}

async function concurrent(decide: Decide, keys: string[], ms: number): Promise<{ perSecond: number; decisions: number }> {
  let count = 0;
  const deadline = performance.now() + ms;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) await decide(keys[count++ % keys.length]!);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { perSecond: count / ((performance.now() - started) / 1000), decisions: count };
}

/** Counts the commands a client sends, by name. Every command outside MULTI is one round trip. */
function countCommands(client: Redis): { counts: Map<string, number>; reset(): void } {
  const counts = new Map<string, number>();
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    counts.set(command.name, (counts.get(command.name) ?? 0) + 1);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof client.sendCommand;
  return { counts, reset: () => counts.clear() };
}

/** Top-level script calls as Redis itself counts them (INFO commandstats), as a cross-check. */
async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info("commandstats");
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(match[2]);
  return calls;
}

function format(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

interface Row {
  scenario: string;
  contender: string;
  perSecond: number;
  note?: string;
}

async function main() {
  const rows: Row[] = [];
  const runId = `bench-${process.pid}-${Date.now().toString(36)}`;

  // Memory.
  for (const scenario of SCENARIOS) {
    const rule: RateLimitRule = { algorithm: "fixed-window", limit: scenario.limit, windowMs: HOUR_S * 1000 };
    const ours = memoryRateLimitStore({ maxKeys: 100_000 });
    const theirs = new RateLimiterMemory({ points: scenario.limit, duration: HOUR_S });
    const contenders: Array<[string, Decide]> = [
      ["tollgate memory", (key) => ours.consume(key, rule, 1)],
      // rate-limiter-flexible rejects a refused decision; that is its API, so it is caught here.
      ["rate-limiter-flexible memory", (key) => theirs.consume(key, 1).catch((refusal: unknown) => refusal)],
    ];
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, decide] of round % 2 ? [...contenders].reverse() : contenders) {
        best.set(name, Math.max(best.get(name) ?? 0, await sequential(decide, scenario.keys, BENCH_MS)));
      }
    }
    for (const [name, perSecond] of best) rows.push({ scenario: `memory, ${scenario.name}`, contender: name, perSecond });
  }

  // The whole limiter as the handler uses it: key hashing (SHA-256) and the RateLimit headers too.
  {
    const limiter = createRateLimiter({ limits: [{ name: "user", limit: 1_000_000, windowMs: HOUR_S * 1000 }] });
    const users = SCENARIOS[0]!.keys.map((id) => ({ user: { id } }));
    let i = 0;
    const perSecond = await sequential(() => limiter.check(users[i++ % users.length]!), users.map(String), BENCH_MS);
    rows.push({ scenario: "memory, mostly admitted", contender: "tollgate createRateLimiter().check", perSecond, note: "hashes the key and builds headers" });
  }

  // Redis: one client for both.
  const client = new Redis(REDIS_URL);
  const commands = countCommands(client);
  const roundTrips: string[] = [];
  try {
    for (const scenario of SCENARIOS) {
      const rule: RateLimitRule = { algorithm: "fixed-window", limit: scenario.limit, windowMs: HOUR_S * 1000 };
      const ours = redisStore({ client, prefix: `${runId}-ours` });
      const theirs = new RateLimiterRedis({ storeClient: client, keyPrefix: `${runId}-rlf`, points: scenario.limit, duration: HOUR_S });
      const contenders: Array<[string, Decide]> = [
        ["tollgate redis", (key) => ours.consume(key, rule, 1)],
        ["rate-limiter-flexible redis", (key) => theirs.consume(key, 1).catch((refusal: unknown) => refusal)],
      ];
      // Load the scripts once, so the NOSCRIPT fallback of a first call is not counted as a decision's cost.
      for (const [, decide] of contenders) await decide("warm-up");
      const best = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, decide] of round % 2 ? [...contenders].reverse() : contenders) {
          commands.reset();
          const scriptsBefore = await scriptCalls(client);
          commands.reset();
          const { perSecond, decisions } = await concurrent(decide, scenario.keys, BENCH_MS);
          const sent = [...commands.counts].map(([command, n]) => `${command} ${(n / decisions).toFixed(2)}`).join(", ");
          const serverScripts = (await scriptCalls(client)) - scriptsBefore;
          best.set(name, Math.max(best.get(name) ?? 0, perSecond));
          if (round === 0) {
            roundTrips.push(`${scenario.name}, ${name}: commands sent per decision: ${sent}; script calls counted by Redis per decision: ${(serverScripts / decisions).toFixed(2)}`);
          }
        }
      }
      for (const [name, perSecond] of best) rows.push({ scenario: `redis, ${scenario.name}`, contender: name, perSecond });
    }
  } finally {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${runId}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== "0");
    client.disconnect();
  }

  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`Rate-limit decisions per second (best of ${ROUNDS} rounds of ${BENCH_MS} ms; ${machine}; Redis concurrency ${CONCURRENCY})\n`);
  console.log("| scenario | contender | decisions/s | vs rate-limiter-flexible |");
  console.log("| --- | --- | ---: | ---: |");
  for (const row of rows) {
    const kind = row.scenario.startsWith("redis") ? "redis" : "memory";
    const baseline = rows.find((r) => r.scenario === row.scenario && r.contender === `rate-limiter-flexible ${kind}`);
    // The whole-limiter row does more than a store decision, so it is not set against one.
    const comparable = !row.contender.startsWith("rate-limiter") && !row.note;
    const ratio = baseline && comparable ? `${(row.perSecond / baseline.perSecond).toFixed(2)}x` : "";
    console.log(`| ${row.scenario} | ${row.contender}${row.note ? ` (${row.note})` : ""} | ${format(row.perSecond)} | ${ratio} |`);
  }
  console.log("\nRedis round trips:");
  for (const line of roundTrips) console.log(`- ${line}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
