import { afterAll, describe, expect, it } from "vitest";
import { createServerApp } from "../server/app.ts";
import { ConfigError, readConfig } from "../server/config.ts";
import { telemetryPlan } from "../server/otel.ts";
import { capturingLogger, closeAll, listen } from "./support/servers.ts";

// When the standalone server starts the SDK, and with what, from the standard OTEL_* variables;
// and the /metrics route that Prometheus scrapes.

describe("the standalone server's telemetry plan", () => {
  it("is off when no variable asks for telemetry", () => {
    expect(telemetryPlan({})).toBe("off");
    expect(telemetryPlan({ OTEL_SERVICE_NAME: "tokens" })).toBe("off");
  });

  it("exports both signals over OTLP/HTTP protobuf once an endpoint is set", () => {
    expect(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).toMatchObject({
      traces: ["otlp"],
      metrics: ["otlp"],
      tracesProtocol: "http/protobuf",
      metricsProtocol: "http/protobuf",
      metricExportIntervalMs: 60_000,
      logLevel: "WARN",
    });
  });

  it("follows per-signal endpoints, exporters, protocols and the export interval", () => {
    expect(
      telemetryPlan({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf",
        OTEL_METRIC_EXPORT_INTERVAL: "500",
      }),
    ).toMatchObject({ traces: ["otlp"], metrics: [], tracesProtocol: "http/json", metricsProtocol: "http/protobuf", metricExportIntervalMs: 500, metricExportTimeoutMs: 500 });
    expect(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", OTEL_TRACES_EXPORTER: "none" })).toMatchObject({ traces: [], metrics: ["otlp"] });
  });

  it("serves Prometheus when TOLLGATE_METRICS or OTEL_METRICS_EXPORTER names it, without traces", () => {
    expect(telemetryPlan({ TOLLGATE_METRICS: "prometheus" })).toMatchObject({ traces: [], metrics: ["prometheus"] });
    expect(telemetryPlan({ OTEL_METRICS_EXPORTER: "prometheus,otlp" })).toMatchObject({ traces: [], metrics: ["prometheus", "otlp"] });
  });

  it("is off with OTEL_SDK_DISABLED=true whatever else is set", () => {
    expect(telemetryPlan({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", TOLLGATE_METRICS: "prometheus" })).toBe("off");
  });

  it("refuses what it cannot do, naming the variable", () => {
    expect(() => telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL.*grpc/);
    expect(() => telemetryPlan({ OTEL_TRACES_EXPORTER: "zipkin" })).toThrow(ConfigError);
    expect(() => telemetryPlan({ TOLLGATE_METRICS: "prometheus", OTEL_METRIC_EXPORT_INTERVAL: "soon" })).toThrow(/OTEL_METRIC_EXPORT_INTERVAL/);
    expect(() => telemetryPlan({ TOLLGATE_METRICS: "prometheus", OTEL_LOG_LEVEL: "loud" })).toThrow(/OTEL_LOG_LEVEL/);
  });
});

describe("the /metrics route", () => {
  afterAll(closeAll);

  async function serverWith(prometheusText?: () => Promise<string>) {
    const app = await createServerApp(readConfig({}), capturingLogger(), { prometheusText });
    return (await listen("standalone-app", app.fetch)).url;
  }

  it("does not exist unless Prometheus was asked for", async () => {
    expect((await fetch(`${await serverWith()}/metrics`)).status).toBe(404);
  });

  it("serves the Prometheus text when asked for, to GET only", async () => {
    const url = await serverWith(async () => "tollgate_tokens_issued_total 7\n");
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toBe("tollgate_tokens_issued_total 7\n");
    expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);
  });
});
