import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sparePort } from "../support/ports.ts";
import { TEST_API_KEY, closeAll, startUpstream } from "../support/servers.ts";
import { spawnServer, userToken, type ServerProcess } from "../support/otel-process.ts";

// `prometheus` in OTEL_METRICS_EXPORTER is served where the OpenTelemetry SDK serves it, on
// OTEL_EXPORTER_PROMETHEUS_HOST and OTEL_EXPORTER_PROMETHEUS_PORT, with the server's own unit
// suffixes in the names; not at /metrics on the token server's port.

let server: ServerProcess;
let metricsPort: number;

beforeAll(async () => {
  const upstream = await startUpstream();
  metricsPort = await sparePort();
  server = await spawnServer({
    ANAM_API_KEY: TEST_API_KEY,
    ANAM_BASE_URL: upstream.url,
    HOST: "127.0.0.1",
    OTEL_METRICS_EXPORTER: "prometheus",
    OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await closeAll();
});

describe("OTEL_METRICS_EXPORTER=prometheus", () => {
  it("serves the metrics on OTEL_EXPORTER_PROMETHEUS_PORT, and says so in the banner", async () => {
    const response = await fetch(`${server.url}/api/session-token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await userToken("user-prometheus-port")}`, "Content-Type": "application/json" },
      body: JSON.stringify({ profile: "anam" }),
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();

    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toMatch(/^tollgate_tokens_issued_total\{/m);
    expect(text).toMatch(/^tollgate_upstream_mint_duration_seconds_bucket\{/m);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect(server.output()).toContain(`Prometheus on port ${metricsPort} at /metrics`);
  });
});
