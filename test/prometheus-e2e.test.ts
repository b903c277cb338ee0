import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TEST_API_KEY, closeAll, startUpstream, type Upstream } from "./support/servers.ts";
import { spawnServer, userToken, type ServerProcess } from "./support/otel-process.ts";
import { sparePort } from "./support/ports.ts";

// A real backend: Prometheus (the Debian package, which .ci/run installs) scrapes the standalone
// server's /metrics while the test asks for tokens, and PromQL over its HTTP API must count them.

const hasPrometheus = spawnSync("prometheus", ["--version"], { stdio: "ignore" }).status === 0;

let upstream: Upstream;
let server: ServerProcess;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
let workDir: string;
let prometheusLog = "";

beforeAll(async () => {
  expect(hasPrometheus, "the `prometheus` binary is needed: apt-get install prometheus (.ci/run does it)").toBe(true);
  upstream = await startUpstream();
  server = await spawnServer({ ANAM_API_KEY: TEST_API_KEY, ANAM_BASE_URL: upstream.url, TOLLGATE_METRICS: "prometheus" });

  workDir = mkdtempSync(join(tmpdir(), "tollgate-prometheus-"));
  const target = new URL(server.url).host;
  writeFileSync(
    join(workDir, "prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: tollgate",
      "    metrics_path: /metrics",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  const port = await sparePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    "prometheus",
    [`--config.file=${join(workDir, "prometheus.yml")}`, `--storage.tsdb.path=${join(workDir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  prometheus.stdout!.on("data", (chunk: Buffer) => (prometheusLog += chunk.toString("utf8")));
  prometheus.stderr!.on("data", (chunk: Buffer) => (prometheusLog += chunk.toString("utf8")));
  await vi.waitFor(
    async () => {
      expect(prometheus!.exitCode, prometheusLog).toBeNull();
      expect((await fetch(`${prometheusUrl}/-/ready`)).status).toBe(200);
    },
    { timeout: 20_000, interval: 200 },
  );
}, 40_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill("SIGTERM");
    await once(prometheus, "exit");
  }
  await server?.stop();
  await closeAll();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** One instant PromQL query; the value of its only sample, or undefined while there is none. */
async function queryOne(promql: string): Promise<number | undefined> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: { value: [number, string] }[] } };
  expect(body.status).toBe("success");
  return body.data.result.length === 1 ? Number(body.data.result[0]!.value[1]) : undefined;
}

async function askForToken(userId: string): Promise<void> {
  const response = await fetch(`${server.url}/api/session-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await userToken(userId)}`, "Content-Type": "application/json" },
    body: JSON.stringify({ profile: "anam" }),
  });
  expect(response.status).toBe(200);
}

describe("Prometheus scraping the standalone server", () => {
  it("counts, through PromQL, the tokens this test was issued", async () => {
    // Three users get fresh tokens; the first asks again and is handed its unused one back.
    for (const user of ["prom-user-1", "prom-user-2", "prom-user-3", "prom-user-1"]) await askForToken(user);

    await vi.waitFor(
      async () => {
        expect(await queryOne('up{job="tollgate"}')).toBe(1);
        expect(await queryOne("sum(tollgate_tokens_issued_total)")).toBe(4);
      },
      { timeout: 30_000, interval: 500 },
    );
    expect(await queryOne('sum(tollgate_tokens_issued_total{tollgate_cache_hit="true"})')).toBe(1);
    expect(await queryOne('sum(tollgate_tokens_issued_total{tollgate_cache_hit="false", tollgate_profile="anam"})')).toBe(3);
    // Units in the names, as Prometheus has them: seconds for every duration.
    expect(await queryOne("sum(tollgate_upstream_mint_duration_seconds_count)")).toBe(3);
    expect(await queryOne('sum(http_server_request_duration_seconds_count{http_route="/api/session-token", http_response_status_code="200"})')).toBe(4);
  });
});
