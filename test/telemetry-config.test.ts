import { afterAll, describe, expect, it } from "vitest";
import { createServerApp } from "../server/app.ts";
import { ConfigError, readConfig } from "../server/config.ts";
import { telemetryPlan } from "../server/otel-plan.ts";
import { capturingLogger, closeAll, listen } from "./support/servers.ts";

// When the standalone server starts the SDK, and with what, from the standard OTEL_* variables;
// and the /metrics route that Prometheus scrapes.

describe("the standalone server's telemetry plan", () => {
  it("is off when no variable asks for telemetry", () => {
    expect(telemetryPlan({})).toBe("off");
    expect(telemetryPlan({ OTEL_SERVICE_NAME: "tokens" })).toBe("off");
  });

  it("turns on the signals that an endpoint or an exporter variable asks for, and leaves the rest to the SDK", () => {
    expect(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).toEqual({
      traces: true,
      metrics: true,
      logs: true,
      metricExporters: ["otlp"],
      metricExport: { protocol: "http/protobuf", intervalMillis: 60_000, timeoutMillis: 30_000 },
      prometheus: undefined,
    });
    // A per-signal endpoint turns on that signal only, not an export to a collector nobody runs.
    expect(telemetryPlan({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" })).toMatchObject({ traces: true, metrics: false, logs: false });
    expect(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", OTEL_TRACES_EXPORTER: "none" })).toMatchObject({ traces: false, metrics: true });
    expect(telemetryPlan({ OTEL_TRACES_EXPORTER: "console" })).toMatchObject({ traces: true, metrics: false, logs: false });
  });

  it("reads the metric readers' protocol, interval and timeout as the specification says (for the readers built beside Prometheus)", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4317" };
    expect(telemetryPlan({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toMatchObject({ traces: true, metricExport: { protocol: "grpc" } });
    // The metrics signal's own protocol wins over the general one.
    expect(telemetryPlan({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json" })).toMatchObject({ metricExport: { protocol: "http/json" } });
    // A short interval cuts the default timeout down to it, so that exports never overlap.
    expect(telemetryPlan({ ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: "5000" })).toMatchObject({ metricExport: { intervalMillis: 5_000, timeoutMillis: 5_000 } });
    expect(telemetryPlan({ ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: "10000", OTEL_METRIC_EXPORT_TIMEOUT: "2000" })).toMatchObject({ metricExport: { intervalMillis: 10_000, timeoutMillis: 2_000 } });
  });

  it("serves Prometheus when TOLLGATE_METRICS, OTEL_METRICS_EXPORTER or TOLLGATE_METRICS_PORT names it, without traces", () => {
    expect(telemetryPlan({ TOLLGATE_METRICS: "prometheus" })).toMatchObject({ traces: false, metrics: true, logs: false, metricExporters: [], prometheus: { port: undefined } });
    expect(telemetryPlan({ TOLLGATE_METRICS_PORT: "9464" })).toMatchObject({ metrics: true, prometheus: { port: 9464 } });
    // Named in OTEL_METRICS_EXPORTER, it is served where the SDK would serve it.
    expect(telemetryPlan({ OTEL_METRICS_EXPORTER: "prometheus,otlp" })).toMatchObject({ traces: false, metricExporters: ["otlp"], prometheus: { port: 9464, host: undefined } });
    expect(telemetryPlan({ OTEL_METRICS_EXPORTER: "prometheus", OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1", OTEL_EXPORTER_PROMETHEUS_PORT: "9100" })).toMatchObject({
      prometheus: { port: 9100, host: "127.0.0.1", variable: "OTEL_EXPORTER_PROMETHEUS_PORT" },
    });
    // Asked for by our own variables too, it is served once, where those say.
    expect(telemetryPlan({ OTEL_METRICS_EXPORTER: "prometheus", TOLLGATE_METRICS: "prometheus" })).toMatchObject({ prometheus: { port: undefined } });
  });

  it("is off with OTEL_SDK_DISABLED=true whatever else is set", () => {
    expect(telemetryPlan({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", TOLLGATE_METRICS: "prometheus" })).toBe("off");
  });

  it("refuses what it cannot make sense of, naming the variable", () => {
    expect(() => telemetryPlan({ TOLLGATE_METRICS: "statsd" })).toThrow(ConfigError);
    expect(() => telemetryPlan({ TOLLGATE_METRICS: "statsd" })).toThrow(/^TOLLGATE_METRICS must be prometheus/);
    expect(() => telemetryPlan({ TOLLGATE_METRICS_PORT: "metrics" })).toThrow(/^TOLLGATE_METRICS_PORT must be a port number/);
    expect(() => telemetryPlan({ OTEL_METRICS_EXPORTER: "prometheus", OTEL_EXPORTER_PROMETHEUS_PORT: "http" })).toThrow('OTEL_EXPORTER_PROMETHEUS_PORT must be a port number, not "http"');
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318" };
    const refusals: Array<[Record<string, string>, string]> = [
      [{ OTEL_METRICS_EXPORTER: "statsd" }, 'OTEL_METRICS_EXPORTER takes otlp, console, prometheus or none, not "statsd"'],
      [{ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http" }, 'OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json, grpc, not "http"'],
      [{ ...endpoint, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "udp" }, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL must be one of http/protobuf, http/json, grpc, not "udp"'],
      [{ ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: "1m" }, 'OTEL_METRIC_EXPORT_INTERVAL must be a whole number of milliseconds, not "1m"'],
      [{ ...endpoint, OTEL_METRIC_EXPORT_INTERVAL: "1000", OTEL_METRIC_EXPORT_TIMEOUT: "5000" }, "OTEL_METRIC_EXPORT_TIMEOUT (5000) must not be longer than OTEL_METRIC_EXPORT_INTERVAL (1000)"],
    ];
    for (const [env, message] of refusals) {
      expect(() => telemetryPlan(env), message).toThrow(ConfigError);
      expect(() => telemetryPlan(env), message).toThrow(message);
    }
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
