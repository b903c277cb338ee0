import autocannon from "autocannon";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

/**
 * HTTP benchmark: the token route on a cache hit against a bare handler that answers the same JSON,
 * on each runtime, in one run, with autocannon on loopback. Not a test: it asserts nothing about
 * time, it measures and prints a Markdown table.
 *
 * A third case, the floor, reads the credentials and the body and answers with the token route's
 * header fields, and nothing else: the part of the gap that any token route pays.
 *
 * Each case gets `duration` seconds in all, split into rounds that rotate which case goes first.
 * The shares of the bare handler's rate are taken round by round, each case against the bare
 * handler measured in the same round, and the table gives their median and range: a machine that
 * gets busier or quieter during the run then moves both sides of a share together. With `--pin`
 * (Linux, taskset) the server runs on CPU 0 and autocannon on CPU 1, so that they do not take
 * turns on the same core.
 *
 * On Linux it also reads the server process's CPU time from /proc around each load, and prints the
 * server CPU each case spends per request: a steadier figure than requests per second on a shared
 * machine, and one that says how many microseconds tollgate's steps cost over the floor.
 *
 * With `--parts`, four more cases split the token route's cost (see bench/server.ts); their server
 * CPU is printed in the last table. Every case is served as the standalone server serves
 * (`Deno.serve` on Deno, srvx on Node and Bun); `--srvx` serves them through srvx on every runtime.
 *
 *   npx tsx bench/http.ts                      # 10 s per case in 4 rounds, Node, Bun and Deno
 *   npx tsx bench/http.ts --duration 6 --rounds 3 --pin --runtimes node,bun
 */

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "32" },
    rounds: { type: "string", default: "4" },
    runtimes: { type: "string", default: "node,bun,deno" },
    pin: { type: "boolean", default: false },
    parts: { type: "boolean", default: false },
    srvx: { type: "boolean", default: false },
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
const PARTS = ["tollgateNoRateLimit", "tollgateFixedLimiter", "tollgateFieldsOnSuccess", "floorWithRateLimitFields"];
const CASES: string[] = ["bare", "floor", "tollgate", ...(values.parts ? PARTS : [])];

if (values.pin) execFileSync("taskset", ["-a", "-pc", "1", String(process.pid)], { stdio: "ignore" });

interface Ports extends Record<string, number | string> {
  control: number;
  userToken: string;
}

async function startServer(runtime: string): Promise<{ child: ChildProcess; ports: Ports }> {
  const runtimeCommand = [...commands[runtime]!, ...(values.parts ? ["--parts"] : []), ...(values.srvx ? ["--srvx"] : [])];
  const [command, ...args] = values.pin ? ["taskset", "-c", "0", ...runtimeCommand] : runtimeCommand;
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
  /** Server CPU (user and system, all threads) per request, in µs; NaN where /proc is not there. */
  cpuPerRequest: number;
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A process's CPU time so far in µs, from /proc/<pid>/stat (utime and stime), or NaN. */
function cpuMicros(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

async function load(port: number, userToken: string, seconds: number, serverPid?: number): Promise<Measure> {
  const cpuBefore = cpuMicros(serverPid);
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
  const cpuPerRequest = (cpuMicros(serverPid) - cpuBefore) / result.requests.total;
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, cpuPerRequest };
}

/** Rounds together: requests per second over all of them, and the mean of their percentiles. */
function combine(measures: Measure[]): Measure {
  const mean = (pick: (m: Measure) => number) => measures.reduce((sum, m) => sum + pick(m), 0) / measures.length;
  return {
    requestsPerSecond: mean((m) => m.requestsPerSecond),
    p50: mean((m) => m.p50),
    p99: mean((m) => m.p99),
    requests: measures.reduce((sum, m) => sum + m.requests, 0),
    cpuPerRequest: mean((m) => m.cpuPerRequest),
  };
}

const rows: string[] = [];
const cpuRows: string[] = [];
const partRows: string[] = [];
for (const runtime of values.runtimes.split(",")) {
  const { child, ports } = await startServer(runtime);
  try {
    const port = (name: string) => Number(ports[name]);
    for (const name of CASES) await load(port(name), ports.userToken, warmup);
    const measured: Record<string, Measure[]> = Object.fromEntries(CASES.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = [...CASES.slice(round % CASES.length), ...CASES.slice(0, round % CASES.length)];
      for (const name of order) measured[name]!.push(await load(port(name), ports.userToken, duration / rounds, child.pid));
    }
    const [bare, floor, tollgate] = ["bare", "floor", "tollgate"].map((name) => combine(measured[name]!)) as [Measure, Measure, Measure];
    // One upstream mint in all (the one that filled the cache) proves every measured request was a hit.
    const stats = (await (await fetch(`http://127.0.0.1:${ports.control}/`)).json()) as { tokensIssued: number };
    if (stats.tokensIssued !== 1) throw new Error(`${runtime}: ${stats.tokensIssued} upstream mints; expected only cache hits`);
    const share = (name: string) => {
      const shares = measured[name]!.map((m, round) => m.requestsPerSecond / measured.bare![round]!.requestsPerSecond).sort((a, b) => a - b);
      const middle = shares.length / 2;
      const median = shares.length % 2 ? shares[Math.floor(middle)]! : (shares[middle - 1]! + shares[middle]!) / 2;
      const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
      return `${percent(median)} (${percent(shares[0]!)}–${percent(shares.at(-1)!)})`;
    };
    const ms = (value: number) => value.toFixed(1);
    const cell = (m: Measure) => `${Math.round(m.requestsPerSecond).toLocaleString("en-US")} | ${ms(m.p50)} | ${ms(m.p99)}`;
    rows.push(`| ${runtime} | ${cell(bare)} | ${cell(floor)} | ${share("floor")} | ${cell(tollgate)} | ${share("tollgate")} |`);
    const us = (m: Measure) => m.cpuPerRequest.toFixed(1);
    cpuRows.push(`| ${runtime} | ${us(bare)} | ${us(floor)} | ${us(tollgate)} | ${(tollgate.cpuPerRequest - floor.cpuPerRequest).toFixed(1)} | ${((bare.cpuPerRequest / tollgate.cpuPerRequest) * 100).toFixed(0)}% |`);
    for (const name of CASES) partRows.push(`| ${runtime} | ${name} | ${us(combine(measured[name]!))} | ${share(name)} |`);
    console.error(`${runtime}: bare ${Math.round(bare.requestsPerSecond)} req/s, floor ${share("floor")}, token route ${Math.round(tollgate.requestsPerSecond)} req/s (${share("tollgate")})`);
  } finally {
    child.kill("SIGTERM");
  }
}

const placement = `${values.pin ? "server on CPU 0, autocannon on CPU 1" : "server and autocannon sharing the cores"}${values.srvx ? ", served through srvx on every runtime" : ""}`;
console.log(`\n${connections} connections, ${duration} s per case in ${rounds} rotating rounds after ${warmup} s of warm-up, ${placement}; req/s and latency (ms) are means over the rounds, shares of the bare handler the median (and range) of the rounds' own shares.\n`);
console.log("| runtime | bare req/s | p50 | p99 | floor req/s | p50 | p99 | floor / bare | token route (cache hit) req/s | p50 | p99 | token route / bare |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) console.log(row);
if (cpuRows.some((row) => !row.includes("NaN"))) {
  console.log("\nServer CPU per request (µs, user and system time of the server process, mean over the rounds):\n");
  console.log("| runtime | bare | floor | token route | token route over the floor | bare's CPU / the token route's |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const row of cpuRows) console.log(row);
}
if (values.parts) {
  console.log("\nEvery case, server CPU per request (µs) and its share of the bare handler's rate:\n");
  console.log("| runtime | case | server CPU µs | req/s / bare |");
  console.log("| --- | --- | ---: | ---: |");
  for (const row of partRows) console.log(row);
}
