import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The run-wide leak check (global-setup.ts) guards every other suite; here it is shown to bite.

function runPlantedSuite(plant: "key" | "nothing") {
  return spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--config", "test/fixtures/vitest.leak.config.ts"], {
    env: { ...process.env, PLANT: plant, CI: "true" },
    encoding: "utf8",
  });
}

describe("the run-wide leak check", () => {
  it("fails a run in which the API key reached a log line", () => {
    const run = runPlantedSuite("key");
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/Secrets leaked: the API key in 1 of 1/);
  });

  it("passes the same run when the key was redacted", () => {
    const run = runPlantedSuite("nothing");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/leak check: 1 responses and log lines/);
  });
});
