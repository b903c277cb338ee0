/** Runs the Deno KV lease tests (deno-kv.deno.ts) under the real Deno, from the `deno` package's binary. */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");

describe("Deno KV leases under Deno", () => {
  it("pass the lease contract and hold across two handles on one file", async () => {
    const deno = join(dirname(createRequire(import.meta.url).resolve("deno/package.json")), "bin.cjs");
    const { stdout, stderr } = await run(
      process.execPath,
      [deno, "test", "--unstable-kv", "--allow-read", "--allow-write", "--allow-env", "--no-prompt", "test/sessions/deno-kv.deno.ts"],
      { cwd: root, env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`deno test failed:\n${error.stdout ?? ""}\n${error.stderr ?? error.message}`);
    });
    // 6 contract cases, 1 of two handles and the clean-up: a case that went missing would show here.
    expect(`${stdout}\n${stderr}`).toMatch(/ok \| 8 passed \| 0 failed/);
  }, 150_000);
});
