/**
 * Time to token on a cache miss, and tollgate's own share of it: the Anam emulator on its own
 * loopback port answers each mint after 300 ms, and each request is for a fresh key (a new tab),
 * so every one mints. tollgate's share of a request is its whole time through the handler less its
 * upstream call's own (timed around the provider's fetch, and tied to its request through
 * AsyncLocalStorage). On the memory store and on Redis (a
 * Redis of the benchmark's own), with session leases on, as with TOLLGATE_MAX_SESSIONS.
 *
 *   npx tsx bench/miss-latency.ts                 # 600 requests per store, 20 in flight
 *   REQUESTS=2000 IN_FLIGHT=50 npx tsx bench/miss-latency.ts
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Redis } from "ioredis";
import { serve } from "srvx";
import { redisStore } from "../adapters/redis.ts";
import { createTokenHandler, type CacheStore } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { createAnamEmulator } from "../src/providers/anam/emulator.ts";
import { PERSONAS } from "../test/support/personas.ts";
import { privateRedis } from "./redis-server.ts";
import { BENCH_LIMITS, USER_TOKEN } from "./setup.ts";

const requests = Number(process.env.REQUESTS ?? 600);
const inFlight = Number(process.env.IN_FLIGHT ?? 20);
const LATENCY_MS = 300;

const emulator = createAnamEmulator({ apiKey: "bench", latencyMs: LATENCY_MS });
const upstream = serve({ port: 0, hostname: "127.0.0.1", silent: true, fetch: emulator.fetch });
await upstream.ready();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(name: string, store: CacheStore | undefined) {
  // The upstream call's own time, added to the request that made it.
  const upstreamOf = new AsyncLocalStorage<{ ms: number }>();
  const provider = anam({
    apiKey: "bench",
    baseUrl: upstream.url!.replace(/\/$/, ""),
    fetch: async (input, init) => {
      const started = performance.now();
      const response = await fetch(input, init);
      await response.clone().arrayBuffer();
      const spent = upstreamOf.getStore();
      if (spent) spent.ms += performance.now() - started;
      return response;
    },
  });
  const handler = createTokenHandler({
    provider,
    authenticate: (request) => (request.headers.get("Authorization") === `Bearer ${USER_TOKEN}` ? { id: "bench-user" } : null),
    personas: { support: PERSONAS.support },
    rateLimit: { limits: BENCH_LIMITS },
    sessions: { maxPerUser: 1_000_000 },
    store,
  });
  let tab = 0;
  const one = async () => {
    const body = JSON.stringify({ personaType: "support", clientId: `${name}-${++tab}` });
    const spent = { ms: 0 };
    const started = performance.now();
    const response = await upstreamOf.run(spent, () => handler(new Request("http://bench/api/session-token", { method: "POST", headers: { Authorization: `Bearer ${USER_TOKEN}`, "Content-Type": "application/json" }, body })));
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    return { total: performance.now() - started, upstream: spent.ms };
  };
  // Warm-up: connections, script loading, the JIT.
  await Promise.all(Array.from({ length: inFlight }, one));
  const samples: Array<{ total: number; upstream: number }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < requests) samples.push(await one());
    }),
  );
  const sorted = (values: number[]) => [...values].sort((x, y) => x - y);
  const totals = sorted(samples.map((sample) => sample.total));
  const upstreams = sorted(samples.map((sample) => sample.upstream));
  const shares = sorted(samples.map((sample) => sample.total - sample.upstream));
  const cells = (p: number) => `${percentile(totals, p).toFixed(1)} | ${percentile(upstreams, p).toFixed(1)} | **${percentile(shares, p).toFixed(1)}**`;
  console.log(`| ${name} | ${requests} | ${cells(50)} | ${cells(99)} |`);
}

console.log(`upstream latency ${LATENCY_MS} ms, ${inFlight} requests in flight, each for a fresh key`);
console.log("| store | requests | p50 total ms | p50 upstream call ms | p50 tollgate ms | p99 total ms | p99 upstream call ms | p99 tollgate ms |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
await measure("memory", undefined);
const redis = await privateRedis();
const client = new Redis(redis.url, { enableAutoPipelining: true, enableOfflineQueue: false, lazyConnect: true });
client.on("error", () => {});
await client.connect();
await measure("redis", redisStore({ client, prefix: "bench" }));
client.disconnect();
redis.stop();
await upstream.close(true);
