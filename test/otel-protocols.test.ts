import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TEST_API_KEY, closeAll, startUpstream, type Upstream } from "./support/servers.ts";
import { spawnServer, startOtlpReceiver, userToken, type OtlpReceiver, type ServerProcess } from "./support/otel-process.ts";

// The standalone server leaves the metric readers to the SDK unless Prometheus sits beside them:
// either way the metrics signal's own protocol wins over the general one, as the OpenTelemetry
// specification says.

let upstream: Upstream;
let receiver: OtlpReceiver;
let server: ServerProcess;

beforeAll(async () => {
  upstream = await startUpstream();
  receiver = await startOtlpReceiver();
  server = await spawnServer({
    ANAM_API_KEY: TEST_API_KEY,
    ANAM_BASE_URL: upstream.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
  await closeAll();
});

describe("the standalone server's OTLP protocols", () => {
  it("exports metrics as protobuf and traces as JSON when the metrics signal names its own protocol", async () => {
    const response = await fetch(`${server.url}/api/session-token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await userToken("user-protocols")}`, "Content-Type": "application/json" },
      body: JSON.stringify({ profile: "anam" }),
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();

    const metrics = await vi.waitFor(
      () => {
        const bodies = receiver.bodies.filter((body) => body.path === "/v1/metrics" && body.text.includes("tollgate.token.requests"));
        expect(bodies.length).toBeGreaterThan(0);
        return bodies;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(metrics.every((body) => body.contentType === "application/x-protobuf")).toBe(true);
    await vi.waitFor(() => expect(receiver.traces().some((span) => span.name === "tollgate.issue")).toBe(true), { timeout: 10_000, interval: 100 });
    expect(receiver.bodies.filter((body) => body.path === "/v1/traces").every((body) => body.contentType.startsWith("application/json"))).toBe(true);
  });
});
