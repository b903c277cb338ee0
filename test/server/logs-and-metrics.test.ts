import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, MeterProvider, MetricReader, type HistogramMetricData, type MetricData } from "@opentelemetry/sdk-metrics";
import { pino } from "pino";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServerApp, type ServerApp } from "../../server/app.ts";
import { signUserToken } from "../../server/auth.ts";
import { readConfig } from "../../server/config.ts";
import { sparePort } from "../support/ports.ts";
import { TEST_API_KEY } from "../support/servers.ts";
import { recordLogLine } from "../support/traffic.ts";

// What an operator reads: log lines through a pino logger passed as it is, each with a time, the
// request id, the route and the status, and a failure's whole cause chain; and the metrics of the
// HTTP server and the store, read from a real SDK meter provider.

class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

const reader = new OnDemandReader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

const SECRET = "a-secret-of-at-least-thirty-two-bytes!!";
const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      recordLogLine("pino", line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  },
});

let app: ServerApp;
let bearer: string;

beforeAll(async () => {
  const config = readConfig({
    // Nothing listens on a spare port: every mint fails with ECONNREFUSED under the fetch error.
    ANAM_API_KEY: TEST_API_KEY,
    ANAM_BASE_URL: `http://127.0.0.1:${await sparePort()}`,
    TOLLGATE_JWT_SECRET: SECRET,
    TOLLGATE_STORE: "redis://127.0.0.1:6379",
    TOLLGATE_STORE_PREFIX: `logs-${crypto.randomUUID().slice(0, 8)}`,
  });
  app = await createServerApp(config, pino(sink));
  bearer = await signUserToken(SECRET, "log-user", "1h");
});

afterAll(async () => {
  await app?.close();
});

function tokenRequest(headers: Record<string, string> = {}) {
  return app.fetch(
    new Request("http://tollgate.test/api/session-token", {
      method: "POST",
      headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ profile: "anam" }),
    }),
  );
}

async function collected(name: string): Promise<MetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === name);
}

describe("log lines through pino", () => {
  it("carry a time, the request id, the route and the status, and the 5xx's cause chain down to ECONNREFUSED", async () => {
    const response = await tokenRequest({ "X-Request-Id": "edge-7f3a" });
    expect(response.status).toBe(503);
    expect(response.headers.get("x-request-id")).toBe("edge-7f3a");

    const mine = lines.filter((line) => line.requestId === "edge-7f3a");
    const failure = mine.find((line) => typeof line.cause === "string")!;
    expect(failure).toMatchObject({ route: "/api/session-token", status: 503, level: 50 });
    expect(failure.cause).toMatch(/fetch failed.*ECONNREFUSED/);
    const access = mine.find((line) => line.msg === "request failed")!;
    expect(access).toMatchObject({ method: "POST", route: "/api/session-token", status: 503 });
    expect(typeof access.time).toBe("number");
    expect(JSON.stringify(lines)).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(lines)).not.toContain(bearer);
  }, 30_000);

  it("gives a request without an id one of its own, and prints nothing for an answer below 500", async () => {
    const response = await app.fetch(new Request("http://tollgate.test/wp-admin/secret-path"));
    expect(response.status).toBe(404);
    const id = response.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // A 404 is the server doing its job: no line, and the path a client typed is never logged.
    expect(lines.filter((line) => line.requestId === id)).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain("secret-path");
  });
});

describe("metrics of the server", () => {
  it("time every answer as http.server.request.duration, in seconds, by route and status", async () => {
    const duration = (await collected("http.server.request.duration")) as HistogramMetricData;
    expect(duration.descriptor.unit).toBe("s");
    const point = duration.dataPoints.find((p) => p.attributes["http.route"] === "/api/session-token" && p.attributes["http.response.status_code"] === 503)!;
    expect(point.value.count).toBeGreaterThanOrEqual(1);
    expect(point.attributes["error.type"]).toBe("503");
  });

  it("count failures by route and status class", async () => {
    const failures = await collected("tollgate.http.server.failures");
    const classes = failures!.dataPoints.map((p) => [p.attributes["http.route"] ?? null, p.attributes["tollgate.http.status_class"], p.value]);
    expect(classes).toContainEqual(["/api/session-token", "5xx", 1]);
    expect(classes).toContainEqual([null, "4xx", 1]);
  });

  it("time the store's operations by operation, in seconds", async () => {
    const store = (await collected("tollgate.store.operation.duration")) as HistogramMetricData;
    expect(store.descriptor.unit).toBe("s");
    const operations = new Set(store.dataPoints.map((p) => p.attributes["tollgate.store.operation"]));
    // The rate limit's decision and the cache lookup of the token request above (a reuse entry,
    // read with its record).
    expect(operations).toContain("consume");
    expect(operations).toContain("getDependent");
  });
});
