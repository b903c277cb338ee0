/**
 * Misconfiguration fails when the provider, handler or server is made, naming what is wrong and
 * never repeating a secret: credentials in a base URL, a profile or persona name no request can
 * match, a blank PORT.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { createTokenHandler, defineHttpProvider } from "../../src/index.ts";
import { stringField } from "../../src/providers/http.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { PERSONAS, TEST_API_KEY, authenticate } from "./support.ts";

function thrown(make: () => unknown): Error {
  try {
    make();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected it to throw");
}

/** A misconfigured server stops at once; one that does not is killed after this, and the test fails. */
const EXIT_BOUND_MS = 15_000;

async function exitOf(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], { env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", ...env } });
  let output = "";
  child.stderr.on("data", (chunk) => (output += chunk));
  child.stdout.on("data", (chunk) => (output += chunk));
  const exited = once(child, "exit");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), EXIT_BOUND_MS)));
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === "late") {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`the server was still running after ${EXIT_BOUND_MS} ms, and was killed:\n${output}`);
  }
  return { code: outcome[0] as number | null, output };
}

describe("credentials in a base URL", () => {
  it("are refused by a provider when it is made, naming the option and not the password", () => {
    const error = thrown(() => anam({ apiKey: TEST_API_KEY, baseUrl: "https://admin:hunter2-password@api.example.com" }));
    expect(error.name).toBe("OptionError");
    expect(error.message).toMatch(/baseUrl/);
    expect(error.message).toMatch(/credentials/);
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain(TEST_API_KEY);
  });

  it("are refused by defineHttpProvider for a provider of one's own, a user name alone included", () => {
    const make = (baseUrl: string) =>
      defineHttpProvider(
        {
          name: "acme",
          label: "Acme",
          defaultBaseUrl: "https://api.acme.example",
          path: "/v1/tokens",
          method: "POST",
          config: v.object({}),
          tokenUse: "single-use",
          authHeaders: (apiKey) => ({ Authorization: `Bearer ${apiKey}` }),
          request: () => ({ body: {} }),
          read: (body) => ({ token: stringField(body, "token")!, expiresAt: Date.now() + 60_000 }),
        },
        { apiKey: TEST_API_KEY, baseUrl },
      );
    for (const url of ["https://ops:s3cret-pass@acme.example", "https://ops@acme.example"]) {
      const error = thrown(() => make(url));
      expect(error.name).toBe("OptionError");
      expect(error.message).toMatch(/acme\(\): baseUrl/);
      expect(error.message).not.toContain("s3cret");
    }
    expect(() => make("https://acme.example/gateway")).not.toThrow();
  });
});

describe("names no request can match", () => {
  it.each(["my persona!", "", "a/b", "x".repeat(65)])("are refused when the handler is made: %j", (name) => {
    const provider = anam({ apiKey: TEST_API_KEY, baseUrl: "http://127.0.0.1:9" });
    const personas = thrown(() => createTokenHandler({ provider, authenticate, personas: { [name]: PERSONAS.support } }));
    expect(personas.name).toBe("OptionError");
    expect(personas.message).toContain(JSON.stringify(name));
    const profiles = thrown(() => createTokenHandler({ providers: { anam: provider }, authenticate, profiles: { [name]: { provider: "anam", config: PERSONAS.support } } }));
    expect(profiles.name).toBe("OptionError");
    expect(profiles.message).toContain(JSON.stringify(name));
  });

  it("stop the standalone server when a personas file holds one, naming it", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tollgate-personas-")), "personas.json");
    writeFileSync(file, JSON.stringify({ "my persona!": PERSONAS.support }));
    const { code, output } = await exitOf({ TOLLGATE_PERSONAS: file });
    expect(code).toBe(1);
    expect(output).toContain('"my persona!"');
  });
});

describe("a blank PORT", () => {
  it("stops the standalone server instead of binding a random port", async () => {
    const { code, output } = await exitOf({ PORT: "" });
    expect(code).toBe(1);
    expect(output).toMatch(/PORT must be a port number, not ""/);
    expect(output).not.toMatch(/listening on/);
  });
});
