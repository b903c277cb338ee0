import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sparePort } from "./support/ports.ts";

/**
 * Starts every example, and the standalone server, as a real process under its runtime (Node
 * through tsx, and the bun and deno binaries from node_modules) on a loopback port, and asks it
 * for tokens the way a browser would.
 */

const bin = (name: string) => join(import.meta.dirname, "..", "node_modules", ".bin", name);
const commands = {
  node: (file: string) => [process.execPath, "--import", "tsx", file],
  bun: (file: string) => [bin("bun"), file],
  deno: (file: string) => [bin("deno"), "run", "--allow-net", "--allow-env", "--allow-read", file],
};
type Runtime = keyof typeof commands;

const targets: [file: string, runtime: Runtime][] = [
  ["examples/bun.ts", "bun"],
  ["examples/deno.ts", "deno"],
  ["examples/node.ts", "node"],
  ...(["node", "bun", "deno"] as const).flatMap((runtime) => [
    ["examples/itty-router.ts", runtime] as [string, Runtime],
    ["examples/hono.ts", runtime] as [string, Runtime],
    ["server/main.ts", runtime] as [string, Runtime],
  ]),
];

const DEMO_USER_TOKEN = "demo-user-token";
const running = new Set<ChildProcess>();

afterAll(async () => {
  await Promise.all([...running].map(stop));
});

/**
 * Starts `file` under `runtime` and resolves with its origin and what it printed, once it listens
 * and has printed its sample curl command (the last thing each of them prints).
 */
async function start(file: string, runtime: Runtime): Promise<{ origin: string; output: () => string; child: ChildProcess }> {
  const port = await sparePort();
  const [command, ...args] = commands[runtime](file);
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), NO_COLOR: "1" };
  delete env.ANAM_API_KEY;
  const child = spawn(command!, args, { cwd: join(import.meta.dirname, ".."), env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/listening on http/i.test(output) && /curl .*"profile"/.test(output)) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${file} under ${runtime} exited with ${code} before listening:\n${output}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, output: () => output, child };
}

async function stop(child: ChildProcess): Promise<void> {
  running.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** The examples offer the profile `support`; the standalone server a demo profile per provider, `anam` among them. */
function mint(origin: string, userToken: string | undefined, profile = "support") {
  return fetch(`${origin}/api/session-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(userToken ? { Authorization: `Bearer ${userToken}` } : {}) },
    body: JSON.stringify({ profile }),
  });
}

describe.concurrent("examples answer on their runtime", () => {
  for (const [file, runtime] of targets) {
    it(`${file} under ${runtime}`, { timeout: 60_000 }, async () => {
      const { origin, output, child } = await start(file, runtime);
      const printedAtStart = output().length;
      try {
        // The standalone server signs a demo user token at start-up and prints it.
        const userToken = file.startsWith("server/") ? /Bearer (\S+?)"/.exec(output())?.[1] : DEMO_USER_TOKEN;
        expect(userToken, "a user token to sign in with").toBeTruthy();

        const profile = file.startsWith("server/") ? "anam" : "support";
        const minted = await mint(origin, userToken, profile);
        expect(minted.status).toBe(200);
        const { token, expiresAt } = (await minted.json()) as { token: string; expiresAt: string };
        expect(token.split(".")).toHaveLength(3);
        expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());

        const anonymous = await mint(origin, undefined, profile);
        expect(anonymous.status).toBe(401);
        expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer /);

        // The default limit is 10 tokens an hour per user, and one is spent: the 11th is refused.
        const statuses: number[] = [];
        for (let i = 0; i < 10; i++) statuses.push((await mint(origin, userToken, profile)).status);
        expect(statuses).toEqual([...Array(9).fill(200), 429]);
        const refused = await mint(origin, userToken, profile);
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);

        // Serving prints nothing: no warning from the runtime, no log line for a 200, 401 or 429.
        expect(output().slice(printedAtStart)).toBe("");
      } finally {
        await stop(child);
      }
    });
  }
});
