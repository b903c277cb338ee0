import { spawn, execFile, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync, mkdtempSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServerApp } from "../server/app.ts";
import { banner } from "../server/banner.ts";
import { readConfig } from "../server/config.ts";
import { loadProfiles } from "../server/profiles.ts";
import { PROVIDERS, serverProvider } from "../server/providers.ts";
import { PERSONAS } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, startUpstream, type Upstream } from "./support/servers.ts";
import { recordLogLine } from "./support/traffic.ts";

// The standalone server as a user runs it: `npm start`'s entry in a child process, configured by
// its environment, answering over real HTTP.

const running = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of running) child.kill("SIGTERM");
  await closeAll();
});

interface Started {
  origin: string;
  output: string[];
  child: ChildProcess;
}

/** Starts the server and waits for its "listening" line. */
async function startServer(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    env: { PATH: process.env.PATH, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      output.push(line);
      recordLogLine("standalone-server", line);
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const origin = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const listening = output.map((line) => /listening on (http:\/\/\S+)/.exec(line)?.[1]).find(Boolean);
      if (listening) resolve(listening);
    };
    child.stdout!.on("data", check);
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${output.join("\n")}`)));
  });
  return { origin, output, child };
}

async function exitOf(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], { env: { PATH: process.env.PATH, PORT: "0", ...env } });
  let output = "";
  child.stderr.on("data", (chunk) => (output += chunk));
  child.stdout.on("data", (chunk) => (output += chunk));
  const [code] = await once(child, "exit");
  return { code, output };
}

describe("with no API key", () => {
  let server: Started;
  beforeAll(async () => {
    server = await startServer({});
  });

  it("says it runs on the emulators, and the curl it prints returns a token", async () => {
    expect(server.output.join("\n")).toContain(`no API key for ${Object.keys(PROVIDERS).join(", ")}, so those tokens come from built-in emulators`);
    expect(server.output).toContain(`tollgate: to use a real API, set its key: ${Object.values(PROVIDERS).map((entry) => entry.fromEnv.variables[0]).join(", ")}.`);
    expect(server.output.join("\n")).toContain("a URL handed out beside a token (a websocketUrl, a serverUrl) is a placeholder under .invalid");
    const curl = server.output.find((line) => line.trim().startsWith("curl "))!.trim();
    const { stdout } = await promisify(execFile)("bash", ["-c", curl]);
    const body = JSON.parse(stdout) as { token: string; sessionToken: string; expiresAt: string; provider: string };
    expect(body).toMatchObject({ provider: "anam", sessionToken: body.token });
    expect(body.token.split(".")).toHaveLength(3);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
  });

  it("offers a demo profile per provider, each of which answers with a token from its emulator", async () => {
    const listed = server.output.map((line) => /^\s+(\S+) -> (\S+) \(emulator\)$/.exec(line)).filter((match) => match !== null);
    expect(listed.map((match) => match![2])).toEqual(Object.keys(PROVIDERS));
    const demoToken = /Bearer (\S+)"/.exec(server.output.find((line) => line.trim().startsWith("curl "))!)![1]!;
    for (const match of listed) {
      const response = await fetch(`${server.origin}/api/session-token`, {
        method: "POST",
        headers: { Authorization: `Bearer ${demoToken}`, "Content-Type": "application/json" },
        body: JSON.stringify({ profile: match![1] }),
      });
      expect(response.status, match![1]).toBe(200);
      const body = (await response.json()) as { token: string; expiresAt: string; provider: string; profile: string };
      expect(body).toMatchObject({ provider: match![2], profile: match![1] });
      expect(body.token.length).toBeGreaterThan(16);
      expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
      // As the banner says: a URL beside an emulated token (websocketUrl, serverUrl) names a placeholder host.
      for (const [field, value] of Object.entries(body)) {
        if (field !== "token" && typeof value === "string" && /^(wss?|https?):\/\//.test(value)) expect(new URL(value).hostname, `${match![1]}: ${field}`).toMatch(/\.invalid$/);
      }
    }
  });

  it("answers the health check, 401 without a user, and 404 elsewhere", async () => {
    expect(await (await fetch(`${server.origin}/healthz`)).json()).toEqual({ status: "ok" });
    expect((await fetch(`${server.origin}/api/session-token`, { method: "POST" })).status).toBe(401);
    const missing = await fetch(`${server.origin}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("Content-Type")).toBe("application/problem+json");
  });
});

describe("each provider's variables, as its fromEnv declares them", () => {
  /** A plausible value for each variable: a URL where one is asked for, else a key or secret. */
  const plausible = (variable: string) => (variable.endsWith("_URL") ? "https://provider.example.test" : `value-of-${variable.toLowerCase()}-0123456789abcdef`);

  it.each(Object.keys(PROVIDERS))("%s: its emulator when none is set, the real provider when all are, and a bad URL named", (name) => {
    const { variables } = PROVIDERS[name]!.fromEnv;
    expect(variables.length).toBeGreaterThan(0);
    expect(serverProvider(name, {}).emulated).toBe(true);
    const real = serverProvider(name, Object.fromEntries(variables.map((variable) => [variable, plausible(variable)])));
    expect(real).toMatchObject({ emulated: false, provider: { name } });
    // Without the key, which comes first, the provider is the emulator again.
    expect(serverProvider(name, Object.fromEntries(variables.slice(1).map((variable) => [variable, plausible(variable)]))).emulated).toBe(true);
    for (const variable of variables.filter((variable) => variable.endsWith("_URL"))) {
      expect(() => serverProvider(name, { [variable]: "ftp://provider.example.test" })).toThrow(new RegExp(`^${variable}: must be a`));
    }
  });
});

describe("with a real-looking upstream", () => {
  const secret = "a-test-secret-that-is-at-least-32-bytes-long";
  let upstream: Upstream;
  let server: Started;
  let personasFile: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    personasFile = join(mkdtempSync(join(tmpdir(), "tollgate-personas-")), "personas.json");
    writeFileSync(personasFile, JSON.stringify({ concierge: PERSONAS.support }));
    server = await startServer({ ANAM_API_KEY: TEST_API_KEY, ANAM_BASE_URL: upstream.url, TOLLGATE_JWT_SECRET: secret, TOLLGATE_PERSONAS: personasFile });
  });

  async function userToken(canAccessPersonas: boolean) {
    const { SignJWT } = await import("jose");
    return new SignJWT({ canAccessPersonas }).setProtectedHeader({ alg: "HS256" }).setSubject("user-42").setExpirationTime("5m").sign(new TextEncoder().encode(secret));
  }

  function ask(token: string, body: unknown) {
    return fetch(`${server.origin}/api/session-token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  it("mints from ANAM_BASE_URL with the configured personas and user JWTs", async () => {
    const response = await ask(await userToken(true), { personaType: "concierge" });
    expect(response.status).toBe(200);
    expect(upstream.emulator.stats.tokensIssued).toBe(1);
    expect(server.output.join("\n")).not.toMatch(/demo user token/);
  });

  it("answers 403 when the claim canAccessPersonas is not true, and 400 for a persona not in the file", async () => {
    expect((await ask(await userToken(false), { personaType: "concierge" })).status).toBe(403);
    expect((await ask(await userToken(true), { personaType: "support" })).status).toBe(400);
  });

  it("accepts a session report for the user's own token", async () => {
    const token = await userToken(true);
    const { sessionToken } = (await (await ask(token, { personaType: "concierge" })).json()) as { sessionToken: string };
    const report = await fetch(`${server.origin}/api/session-token/usage`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ sessionToken, event: "started" }),
    });
    expect(report.status).toBe(204);
  });
});

function jsonFile(value: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "tollgate-config-")), "config.json");
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe("a bad configuration", () => {
  it.each([
    ["a key without a JWT secret", { ANAM_API_KEY: TEST_API_KEY }, /TOLLGATE_JWT_SECRET or TOLLGATE_JWKS_URL is required with a real provider key \(anam\)/],
    ["a short JWT secret", { TOLLGATE_JWT_SECRET: "short" }, /at least 32 bytes/],
    ["a port that is not a number", { PORT: "eighty" }, /PORT must be a port number/],
    ["a base URL that is not http(s)", { ANAM_BASE_URL: "ftp://example" }, /ANAM_BASE_URL/],
    ["a personas file that is missing", { TOLLGATE_PERSONAS: "/nonexistent/personas.json" }, /cannot read/],
    ["a blank port", { PORT: "" }, /PORT must be a port number, not ""/],
    ["a base URL with credentials in it", { OPENAI_BASE_URL: "https://user:hunter2-password@api.example.com" }, /OPENAI_BASE_URL: must not carry credentials/],
    ["a profile for a provider that does not exist", { TOLLGATE_PROFILES: "<profiles>" }, /profile "tutor" needs "provider", one of anam, openai/],
  ])("stops the server with a message naming it: %s", async (_, env, message) => {
    const given = { ...(env as Record<string, string>) };
    if (given.TOLLGATE_PROFILES === "<profiles>") given.TOLLGATE_PROFILES = jsonFile({ tutor: { provider: "tutorbot", config: {} } });
    const { code, output } = await exitOf(given);
    expect(code).toBe(1);
    expect(output).toMatch(message);
    expect(output).not.toContain(TEST_API_KEY);
    expect(output).not.toContain("hunter2");
  });

  it.each(["toString", "constructor", "__proto__", "hasOwnProperty"])("names the known providers for a profile whose provider is %s, a name every object answers to", async (name) => {
    const profilesFile = jsonFile({ tutor: { provider: name, config: {} } });
    await expect(loadProfiles({ profilesFile, env: {} })).rejects.toThrow(/TOLLGATE_PROFILES: profile "tutor" needs "provider", one of anam, openai/);
  });

  it("stops the server with a message naming the port when another process holds it", async () => {
    const holder = createServer().listen(0);
    await once(holder, "listening");
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, output } = await exitOf({ PORT: String(port) });
      expect(code).toBe(1);
      expect(output).toContain(`port ${port} is already in use`);
    } finally {
      holder.close();
    }
  });
});

describe("the worst case per user, in the start-up banner", () => {
  /** The banner's lines about cost, for a server made from `env` in this process. */
  async function costLines(env: Record<string, string>): Promise<string[]> {
    const config = readConfig(env);
    const app = await createServerApp(config, capturingLogger());
    try {
      const telemetry = { mode: "off" as const, summary: "off", prometheusText: undefined, metricsPort: undefined };
      const lines = banner({ origin: "http://localhost:8787", config, app, telemetry, store: await app.checkStore() });
      return lines.filter((line) => /worst case|session ceiling at/.test(line));
    } finally {
      await app.close();
    }
  }

  // Profiles of some providers that enforce a ceiling and some that do not, named here rather than
  // the demo profiles, so that a provider added to the server changes none of these lines.
  const mixedProfiles = () =>
    jsonFile({
      avatar: { provider: "anam", config: PERSONAS.support },
      captions: { provider: "assemblyai", config: {} },
      voice: { provider: "openai", config: { session: { type: "realtime", model: "gpt-realtime" } } },
      agent: { provider: "elevenlabs", config: { agentId: "agent_0123456789abcdefghij" } },
      grant: { provider: "deepgram", config: {} },
    });

  it("bounds the profiles whose provider ends a session at the ceiling, and says the others are not bounded so", async () => {
    expect(await costLines({ TOLLGATE_PROFILES: mixedProfiles(), TOLLGATE_MAX_SESSION_SECONDS: "600" })).toEqual([
      "tollgate: worst case per user at avatar, captions (their providers end each session at the ceiling): 10 tokens per 1 h x 10 min sessions = 100 min of sessions per 1 h",
      "tollgate: no session ceiling at voice, agent, grant (not enforced by the provider, which has no field for one): a session there lasts as long as the provider allows; 10 tokens per 1 h, one session per token at agent, any number per token until it expires at voice, grant",
    ]);
  });

  it("counts a ceiling under a provider's floor at the floor, and a stateful Anam persona among the unbounded", async () => {
    const profilesFile = jsonFile({
      captions: { provider: "assemblyai", config: {} },
      concierge: { provider: "anam", config: { personaId: "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b" } },
      tutor: { provider: "anam", config: PERSONAS.support, maxSessionSeconds: 20 },
    });
    expect(await costLines({ TOLLGATE_PROFILES: profilesFile, TOLLGATE_MAX_SESSION_SECONDS: "30", TOLLGATE_MAX_SESSIONS: "2", TOLLGATE_RATE_LIMIT: "5/1d" })).toEqual([
      "tollgate: worst case per user at captions, tutor (their providers end each session at the ceiling): 5 tokens per 24 h x 1 min sessions = 5 min of sessions per 24 h, at most 2 at a time while clients report their sessions",
      "tollgate: no session ceiling at concierge (not enforced by the provider, which has no field for one): a session there lasts as long as the provider allows; 5 tokens per 24 h, one session per token at concierge",
    ]);
  });

  it("counts the hour that is sent when no ceiling is set at all", async () => {
    const lines = await costLines({ TOLLGATE_PROFILES: mixedProfiles() });
    expect(lines[0]).toBe("tollgate: worst case per user at avatar, captions (their providers end each session at the ceiling): 10 tokens per 1 h x 1 h sessions = 10 h of sessions per 1 h");
    expect(lines[1]).toMatch(/^tollgate: no session ceiling at voice, agent, grant \(not enforced by the provider/);
  });
});
