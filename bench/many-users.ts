/**
 * 50 000 distinct users against the standalone server on its embedded store, over loopback: after
 * them, the first users' `started` reports must still be 204 (their records were kept) and their
 * used tokens never handed out again. Prints the server's resident memory before and after.
 *
 *   node --import tsx bench/many-users.ts [--users 50000] [--first 100] [--concurrency 32]
 *
 * The server runs on its built-in Anam emulator (no key, nothing leaves the machine), with a JWT
 * secret of this run's own. Exits 1 when a check fails.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { PERSONAS } from "../test/support/personas.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "50000" },
    first: { type: "string", default: "100" },
    concurrency: { type: "string", default: "32" },
  },
});
const users = Number(values.users);
const firstUsers = Number(values.first);
const concurrency = Number(values.concurrency);
if (!(users >= firstUsers && firstUsers >= 1 && concurrency >= 1)) throw new Error("need --users >= --first >= 1 and --concurrency >= 1");

const secret = new TextEncoder().encode(crypto.randomUUID() + crypto.randomUUID());
const personas = join(mkdtempSync(join(tmpdir(), "tollgate-many-users-")), "personas.json");
writeFileSync(personas, JSON.stringify({ support: PERSONAS.support }));

const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
  env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", TOLLGATE_JWT_SECRET: new TextDecoder().decode(secret), TOLLGATE_PERSONAS: personas },
  stdio: ["ignore", "pipe", "inherit"],
});
const origin = await new Promise<string>((resolve, reject) => {
  child.stdout!.on("data", (chunk: Buffer) => {
    const listening = /listening on http:\/\/localhost:(\d+)/.exec(chunk.toString())?.[1];
    if (listening) resolve(`http://127.0.0.1:${listening}`);
  });
  child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
});

/** The server's resident set size in MiB, from /proc (Linux). */
function rssMiB(): number {
  const line = readFileSync(`/proc/${child.pid}/status`, "utf8").split("\n").find((text) => text.startsWith("VmRSS:"))!;
  return Math.round(Number(/(\d+)/.exec(line)![1]) / 1024);
}

const userToken = (id: string) =>
  new SignJWT({ canAccessPersonas: true }).setProtectedHeader({ alg: "HS256" }).setSubject(id).setIssuedAt().setExpirationTime("2h").sign(secret);

async function post(path: string, bearer: string, body: unknown): Promise<Response> {
  return fetch(`${origin}${path}`, { method: "POST", headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

async function mint(bearer: string): Promise<string> {
  const response = await post("/api/session-token", bearer, { personaType: "support" });
  if (response.status !== 200) throw new Error(`mint answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** Runs `work(i)` for i in [from, to), `concurrency` at a time. */
async function pool(from: number, to: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < to) await work(next++);
  }));
}

const failures: string[] = [];
try {
  const bearers: string[] = [];
  for (let i = 0; i < firstUsers; i++) bearers.push(await userToken(`user-${i}`));
  // Warm up the server's code paths before the first memory reading.
  await mint(await userToken("warm-up"));
  const rssBefore = rssMiB();

  // The first users get their tokens, then every other user comes after them.
  const firstTokens: string[] = [];
  for (let i = 0; i < firstUsers; i++) firstTokens.push(await mint(bearers[i]!));
  const startedAt = performance.now();
  await pool(firstUsers, users, async (i) => {
    await mint(await userToken(`user-${i}`));
    // Now and then a first user reloads: it must get its own unused token back.
    if (i % 500 === 0) {
      const j = (i / 500) % firstUsers;
      if ((await mint(bearers[j]!)) !== firstTokens[j]) failures.push(`user-${j} was handed a different token on reload`);
    }
  });
  const seconds = (performance.now() - startedAt) / 1000;

  for (let i = 0; i < firstUsers; i++) {
    const report = await post("/api/session-token/usage", bearers[i]!, { token: firstTokens[i], event: "started" });
    if (report.status !== 204) failures.push(`user-${i}'s started report answered ${report.status}`);
    if ((await mint(bearers[i]!)) === firstTokens[i]) failures.push(`user-${i}'s used token was handed out again`);
  }
  const rssAfter = rssMiB();
  console.log(JSON.stringify({ users, firstUsers, concurrency, seconds: Number(seconds.toFixed(1)), requestsPerSecond: Math.round((users - firstUsers) / seconds), rssBeforeMiB: rssBefore, rssAfterMiB: rssAfter, failures: failures.length }));
  for (const failure of failures.slice(0, 10)) console.error(failure);
} finally {
  child.kill("SIGTERM");
}
process.exit(failures.length === 0 ? 0 : 1);
