import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { closeAll, startUpstream, TEST_API_KEY, type Upstream } from "./support/servers.ts";
import { pointTotal, spawnServer, startOtlpReceiver, userToken, type OtlpReceiver, type ServerProcess } from "./support/otel-process.ts";

// The standalone server under Deno and Bun, each as the real binary. Deno with OTEL_DENO=true
// exports by itself and makes the server span; tollgate must add its spans beneath that one and
// not make a second. Bun has no OpenTelemetry of its own, so the server starts the SDK as on Node.

/** The runtime's binary from node_modules (a dev dependency) or the PATH; undefined when absent. */
function binary(name: string): string | undefined {
  const local = new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
  if (existsSync(local)) return local;
  return spawnSync(name, ["--version"], { stdio: "ignore" }).status === 0 ? name : undefined;
}

const deno = binary("deno");
const bun = binary("bun");

let upstream: Upstream;
let receiver: OtlpReceiver | undefined;
let server: ServerProcess | undefined;
beforeAll(async () => {
  upstream = await startUpstream();
  return closeAll;
});
afterEach(async () => {
  await server?.stop();
  await receiver?.close();
});

async function runOnce(command: string[], env: Record<string, string>) {
  receiver = await startOtlpReceiver();
  server = await spawnServer(
    {
      ANAM_API_KEY: TEST_API_KEY,
      ANAM_BASE_URL: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "300",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_SERVICE_NAME: "tollgate-runtime",
      ...env,
    },
    command,
  );
  const response = await fetch(`${server.url}/api/session-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await userToken("runtime-user")}`, "Content-Type": "application/json" },
    body: JSON.stringify({ profile: "anam" }),
  });
  expect(response.status).toBe(200);

  const { issue, trace } = await vi.waitFor(
    () => {
      const spans = receiver!.traces();
      const issue = spans.find((span) => span.name === "tollgate.issue");
      expect(issue).toBeDefined();
      const trace = spans.filter((span) => span.traceId === issue!.traceId);
      expect(trace.some((span) => span.parentSpanId === issue!.spanId)).toBe(true);
      expect(trace.some((span) => span.spanId === issue!.parentSpanId)).toBe(true);
      return { issue: issue!, trace };
    },
    { timeout: 20_000, interval: 200 },
  );
  await vi.waitFor(() => expect(pointTotal(receiver!.latestMetrics().get("tollgate.tokens.issued"))).toBe(1), { timeout: 20_000, interval: 200 });
  return { issue, trace };
}

describe.skipIf(!deno)("on Deno with OTEL_DENO=true", () => {
  it("puts tollgate's spans under Deno's own server span, with no second server span, and exports tollgate's metrics", async () => {
    const { issue, trace } = await runOnce([deno!, "run", "-A", "server/main.ts"], { OTEL_DENO: "true" });
    const serverSpans = trace.filter((span) => span.kind === 2);
    expect(serverSpans).toHaveLength(1);
    expect(serverSpans[0]!.scope.name).toBe("deno");
    expect(serverSpans[0]!.spanId).toBe(issue.parentSpanId);
    // Enriched: the route tollgate knows, on the span Deno made.
    expect(serverSpans[0]!.attributes["http.route"]).toBe("/api/session-token");
    expect(issue.scope.name).toBe("tollgate");
    expect(trace.find((span) => span.parentSpanId === issue.spanId)).toMatchObject({ name: "POST /v1/auth/session-token", kind: 3 });
    expect(server!.output()).toContain("exported by Deno");
  });
});

describe.skipIf(!bun)("on Bun", () => {
  it("starts the SDK and exports the server span, the issue span and its upstream attempt", async () => {
    const { issue, trace } = await runOnce([bun!, "server/main.ts"], {});
    const serverSpan = trace.find((span) => span.spanId === issue.parentSpanId);
    expect(serverSpan).toMatchObject({ name: "POST /api/session-token", kind: 2 });
    expect(serverSpan!.scope.name).toBe("tollgate");
    expect(trace.find((span) => span.parentSpanId === issue.spanId)).toMatchObject({ name: "POST /v1/auth/session-token", kind: 3 });
    expect(issue.resource["service.name"]).toBe("tollgate-runtime");
  });
});
