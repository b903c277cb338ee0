import autocannon from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";

/**
 * HTTP benchmark: the token route on a cache hit against a bare handler that answers the same JSON,
 * on each runtime, in one run, with autocannon on loopback. Not a test: it asserts nothing about
 * time, it measures and prints a Markdown table.
 *
 * Each case gets `duration` seconds in all, split into rounds that alternate which case goes
 * first, so that a machine getting busier or quieter during the run weighs on both alike.
 *
 *   npx tsx bench/http.ts                      # 10 s per case in 2 rounds, Node, Bun and Deno
 *   npx tsx bench/http.ts --duration 5 --runtimes node,bun
 */

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "32" },
    rounds: { type: "string", default: "2" },
    runtimes: { type: "string", default: "node,bun,deno" },
  },
});
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const rounds = Number(values.rounds);

const root = join(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const commands: Record<string, string[]> = {
  node: [process.execPath, "--import", "tsx", "bench/server.ts"],
  bun: [bin("bun"), "bench/server.ts"],
  deno: [bin("deno"), "run", "--allow-net=127.0.0.1", "--allow-env", "--allow-read", "bench/server.ts"],
};

interface Ports {
  tollgate: number;
  bare: number;
  control: number;
  userToken: string;
}

async function startServer(runtime: string): Promise<{ child: ChildProcess; ports: Ports }> {
  const [command, ...args] = commands[runtime]!;
  const child = spawn(command!, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
  const ports = await new Promise<Ports>((resolve, reject) => {
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((text) => text.startsWith("{"));
      if (line) resolve(JSON.parse(line) as Ports);
    });
    child.once("exit", (code) => reject(new Error(`bench server under ${runtime} exited with ${code}`)));
  });
  return { child, ports };
}

interface Measure {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
}

async function load(port: number, userToken: string, seconds: number): Promise<Measure> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/session-token`,
    method: "POST",
    headers: { Authorization: `Bearer ${userToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ personaType: "support" }),
    connections,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total };
}

/** Rounds together: requests per second over all of them, and the mean of their percentiles. */
function combine(measures: Measure[]): Measure {
  const mean = (pick: (m: Measure) => number) => measures.reduce((sum, m) => sum + pick(m), 0) / measures.length;
  return { requestsPerSecond: mean((m) => m.requestsPerSecond), p50: mean((m) => m.p50), p99: mean((m) => m.p99), requests: measures.reduce((sum, m) => sum + m.requests, 0) };
}

const rows: string[] = [];
for (const runtime of values.runtimes.split(",")) {
  const { child, ports } = await startServer(runtime);
  try {
    await load(ports.bare, ports.userToken, warmup);
    await load(ports.tollgate, ports.userToken, warmup);
    const measured: Record<"bare" | "tollgate", Measure[]> = { bare: [], tollgate: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (["bare", "tollgate"] as const) : (["tollgate", "bare"] as const);
      for (const name of order) measured[name].push(await load(ports[name], ports.userToken, duration / rounds));
    }
    const bare = combine(measured.bare);
    const tollgate = combine(measured.tollgate);
    // One upstream mint in all (the one that filled the cache) proves every measured request was a hit.
    const stats = (await (await fetch(`http://127.0.0.1:${ports.control}/`)).json()) as { tokensIssued: number };
    if (stats.tokensIssued !== 1) throw new Error(`${runtime}: ${stats.tokensIssued} upstream mints; expected only cache hits`);
    const ratio = tollgate.requestsPerSecond / bare.requestsPerSecond;
    const ms = (value: number) => value.toFixed(1);
    const cell = (m: Measure) => `${Math.round(m.requestsPerSecond).toLocaleString("en-US")} | ${ms(m.p50)} | ${ms(m.p99)}`;
    rows.push(`| ${runtime} | ${cell(bare)} | ${cell(tollgate)} | ${(ratio * 100).toFixed(0)}% |`);
    console.error(`${runtime}: bare ${Math.round(bare.requestsPerSecond)} req/s, token route ${Math.round(tollgate.requestsPerSecond)} req/s (${(ratio * 100).toFixed(0)}%)`);
  } finally {
    child.kill("SIGTERM");
  }
}

console.log(`\n${connections} connections, ${duration} s per case in ${rounds} alternating rounds after ${warmup} s of warm-up; latency in ms (mean of the rounds' percentiles).\n`);
console.log("| runtime | bare req/s | bare p50 | bare p99 | token route (cache hit) req/s | p50 | p99 | ratio |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) console.log(row);
