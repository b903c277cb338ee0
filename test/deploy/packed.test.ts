import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { signUserToken } from "../../server/auth.ts";
import { TEST_API_KEY, closeAll, listen, startUpstream, type Upstream } from "../support/servers.ts";
import { askForToken, cleanEnv, descendants, killLeftovers, startTree, survivors } from "./processes.ts";

/**
 * The package as an operator deploys it: packed with `npm pack`, installed with
 * `npm ci --omit=dev` in a folder of its own (production dependencies only, from the registry),
 * and started with `npx tollgate`, then the same entry under Bun and Deno.
 */

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const bun = join(root, "node_modules", ".bin", "bun");
const deno = join(root, "node_modules", ".bin", "deno");
/** A process tree that outlives this after SIGTERM is an orphan, not a slow exit. */
const GONE_BOUND_MS = 8_000;
const JWT_SECRET = "a-test-secret-that-is-at-least-32-bytes-long";

let work: string;
let consumer: string;
let entry: string;
let upstream: Upstream;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "tollgate-deploy-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [{ filename: string }];
  consumer = join(work, "app");
  await run("mkdir", [consumer]);
  await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "deploy", private: true, type: "module", dependencies: { tollgate: `file:../${filename}` } }));
  const npm = { cwd: consumer, env: cleanEnv({}), maxBuffer: 16 * 1024 * 1024 };
  // A lockfile first, as a deployment's repository would hold, then the clean install from it.
  await run("npm", ["install", "--package-lock-only", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], npm);
  await run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], npm);
  entry = join(consumer, "node_modules", "tollgate", "dist", "server", "main.js");
  upstream = await startUpstream();
}, 300_000);

afterAll(async () => {
  killLeftovers();
  await closeAll();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("npm ci --omit=dev of the packed package", () => {
  it("installs no development dependency, and ioredis and the OpenTelemetry SDK as its own", async () => {
    for (const dev of ["tsx", "typescript", "vitest", "bun", "deno"]) expect(existsSync(join(consumer, "node_modules", dev)), dev).toBe(false);
    for (const dependency of ["ioredis", "@opentelemetry/sdk-node", "@opentelemetry/exporter-prometheus", "@opentelemetry/api"]) {
      expect(existsSync(join(consumer, "node_modules", dependency)), dependency).toBe(true);
    }
    const lock = JSON.parse(await readFile(join(consumer, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    expect(lock.packages["node_modules/tollgate"]).toBeDefined();
  });

  const runtimes: Array<[string, () => [string, string[]]]> = [
    ["npx tollgate on Node", () => ["npx", ["tollgate"]]],
    ["the same entry under Bun", () => [bun, [entry]]],
    // As the README writes it: without the flag Deno prints a notice about the legacy abort at the first request.
    ["the same entry under Deno", () => [deno, ["run", "-A", "--unstable-no-legacy-abort", entry]]],
  ];
  for (const [name, command] of runtimes) {
    it(`serves a token from the emulator: ${name}`, async () => {
      const [program, args] = command();
      const server = await startTree(program, args, { cwd: consumer, env: cleanEnv({}) });
      expect(server.output.join("\n")).toContain("anam -> anam (emulator)");
      const response = await askForToken(server.origin, server.demoToken!, "anam");
      expect(response.status).toBe(200);
      const body = (await response.json()) as { token: string; provider: string; expiresAt: string };
      expect(body.provider).toBe("anam");
      expect(body.token.split(".")).toHaveLength(3);
      expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
      const tree = [server.child.pid!, ...descendants(server.child.pid!)];
      server.child.kill("SIGTERM");
      expect(await survivors(tree, GONE_BOUND_MS)).toEqual([]);
      // Nothing but the server's own lines: no runtime's notice or warning.
      expect(server.output.filter((line) => !/^(tollgate: |  )/.test(line))).toEqual([]);
    }, 60_000);
  }
});

describe("SIGTERM through the bin", () => {
  for (const [name, command] of [
    ["npx tollgate", () => ["npx", ["tollgate"]]],
    ["node_modules/.bin/tollgate", () => [join(consumer, "node_modules", ".bin", "tollgate"), []]],
  ] as Array<[string, () => [string, string[]]]>) {
    it(`answers the request in flight, then the whole tree is gone: ${name}`, async () => {
      const [program, args] = command();
      await expectCleanStop(program, args, consumer);
    }, 60_000);
  }
});

describe("SIGTERM while a request's body is still arriving", () => {
  for (const [name, command] of [
    ["the packed entry under Bun", () => [bun, [entry]]],
    ["the packed entry under Deno", () => [deno, ["run", "-A", "--unstable-no-legacy-abort", entry]]],
  ] as Array<[string, () => [string, string[]]]>) {
    it(`reads the rest of it and answers 200, then exits: ${name}`, async () => {
      // Users sign in through a JWKS served here, so that its first fetch shows the request has
      // reached the handler (which signs the user in before it reads the body).
      const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
      let jwksFetched = false;
      const idp = await listen("deploy-jwks", () => {
        jwksFetched = true;
        return Response.json({ keys: [jwk] });
      });
      const userToken = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("user-in-flight").setExpirationTime("5m").sign(privateKey);
      const [program, args] = command();
      const server = await startTree(program, args, { cwd: consumer, env: cleanEnv({ TOLLGATE_JWKS_URL: `${idp.url}/jwks`, TOLLGATE_JWT_CLAIM: "none" }) });
      const tree = [server.child.pid!, ...descendants(server.child.pid!)];
      const body = JSON.stringify({ profile: "anam" });
      const socket = connect(Number(new URL(server.origin).port), "127.0.0.1");
      await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      const closed = new Promise((resolve) => socket.once("close", resolve));
      socket.write(
        `POST /api/session-token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${userToken}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
      );
      while (!jwksFetched) await new Promise((resolve) => setTimeout(resolve, 20));

      server.child.kill("SIGTERM");
      // Once the server says it is stopping, the rest of the body goes out.
      while (!server.output.some((line) => line.includes("SIGTERM: finishing the requests in flight"))) await new Promise((resolve) => setTimeout(resolve, 20));
      socket.write(body.slice(5));
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(answer).toContain('"provider":"anam"');
      expect(await survivors(tree, GONE_BOUND_MS)).toEqual([]);
      expect(server.output.join("\n")).not.toMatch(/"level":"error"/);
    }, 60_000);
  }
});

describe("SIGTERM through npm start", () => {
  it("answers the request in flight, then the whole tree (npm, the runtime) is gone", async () => {
    await expectCleanStop("npm", ["start", "--silent"], root);
  }, 60_000);
});

/**
 * Starts the server on a slow upstream, asks for a token, sends SIGTERM to the top of the tree
 * while the upstream call is under way, and checks that the answer is a token and that every
 * process of the tree then exits.
 */
async function expectCleanStop(program: string, args: string[], cwd: string): Promise<void> {
  upstream.emulator.latencyMs = 1_500;
  const server = await startTree(program, args, {
    cwd,
    env: cleanEnv({ ANAM_API_KEY: TEST_API_KEY, ANAM_BASE_URL: upstream.url, TOLLGATE_JWT_SECRET: JWT_SECRET, TOLLGATE_RATE_LIMIT: "1000/1m" }),
  });
  const tree = [server.child.pid!, ...descendants(server.child.pid!)];
  const before = upstream.emulator.stats.mintRequests;
  const answer = askForToken(server.origin, await signUserToken(JWT_SECRET, `stop-${cwd.length}-${Date.now()}`, "1h"), "anam");
  while (upstream.emulator.stats.mintRequests === before) await new Promise((resolve) => setTimeout(resolve, 20));

  server.child.kill("SIGTERM");
  const response = await answer;
  expect(response.status).toBe(200);
  expect(((await response.json()) as { token: string }).token.split(".")).toHaveLength(3);
  expect(await survivors(tree, GONE_BOUND_MS)).toEqual([]);
  upstream.emulator.latencyMs = 0;
}
