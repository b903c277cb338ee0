import { ConfigError } from "./config.ts";

/**
 * What the environment asks of telemetry, read before anything starts, so that a variable that
 * makes no sense stops the server with its name. The SDK (`@opentelemetry/sdk-node`) reads the rest
 * of the `OTEL_*` variables itself: OTLP endpoints, headers, compression and timeouts, batching,
 * sampling, propagators, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_LOG_LEVEL`.
 *
 * What is ours:
 * - Nothing starts unless asked: by an `OTEL_*_EXPORTER`, an OTLP endpoint, or Prometheus. A signal
 *   with neither an exporter variable nor an endpoint of its own stays off, rather than exporting
 *   to an OTLP collector on localhost that nobody runs.
 * - Prometheus (`TOLLGATE_METRICS=prometheus`, or `prometheus` in `OTEL_METRICS_EXPORTER`) is served
 *   by the server itself at `GET /metrics`, or on `TOLLGATE_METRICS_PORT` when that is set (setting
 *   it asks for Prometheus), with units in the names (`..._seconds`).
 * - Because Prometheus sits beside the other metric exporters, the metric readers are built here
 *   rather than by the SDK: their protocol (`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else
 *   `OTEL_EXPORTER_OTLP_PROTOCOL`) and their interval and timeout (`OTEL_METRIC_EXPORT_INTERVAL`,
 *   `OTEL_METRIC_EXPORT_TIMEOUT`) are read as the specification says.
 */

type Env = Record<string, string | undefined>;

export const OTLP_PROTOCOLS = ["http/protobuf", "http/json", "grpc"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** What the environment asks for, before the SDK reads the rest. */
export interface TelemetryPlan {
  /** Signals the SDK configures from its own variables; the others are off. */
  traces: boolean;
  metrics: boolean;
  logs: boolean;
  /** `OTEL_METRICS_EXPORTER` less `prometheus`: `otlp` and `console`, each on a periodic reader. */
  metricExporters: string[];
  /** How those readers export: the OTLP protocol, and every how many ms, waiting how long at most. */
  metricExport: { protocol: OtlpProtocol; intervalMillis: number; timeoutMillis: number };
  prometheus: { port: number | undefined } | undefined;
}

/** The specification's defaults for a periodic metric reader. */
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/** What the environment asks for; throws a ConfigError naming a variable that makes no sense. */
export function telemetryPlan(env: Env): TelemetryPlan | "off" | "deno" {
  if (isTrue(env.OTEL_SDK_DISABLED)) return "off";
  const metricsPort = readMetricsPort(env.TOLLGATE_METRICS_PORT);
  const metricsVariable = env.TOLLGATE_METRICS?.trim().toLowerCase();
  if (metricsVariable && metricsVariable !== "prometheus") throw new ConfigError(`TOLLGATE_METRICS must be prometheus, not "${env.TOLLGATE_METRICS}"`);
  const otelMetricExporters = list(env.OTEL_METRICS_EXPORTER);
  const prometheusAsked = metricsVariable === "prometheus" || otelMetricExporters.includes("prometheus") || metricsPort !== undefined;

  if (isTrue(env.OTEL_DENO) && "Deno" in globalThis) {
    if (prometheusAsked) throw new ConfigError("Prometheus needs the OpenTelemetry SDK; with OTEL_DENO=true, Deno exports OTLP instead");
    return "deno";
  }

  const endpointFor = (signal: "TRACES" | "METRICS" | "LOGS") => Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim());
  const asked = (signal: "TRACES" | "METRICS" | "LOGS") => {
    const exporters = list(env[`OTEL_${signal}_EXPORTER`]).filter((name) => name !== "prometheus");
    if (exporters.includes("none")) return false;
    return exporters.length > 0 || (list(env[`OTEL_${signal}_EXPORTER`]).length === 0 && endpointFor(signal));
  };
  const metricExporters = asked("METRICS") ? otelMetricExporters.filter((name) => name !== "prometheus" && name !== "none") : [];
  if (asked("METRICS") && metricExporters.length === 0) metricExporters.push("otlp");
  const unknown = metricExporters.find((name) => name !== "otlp" && name !== "console");
  if (unknown) throw new ConfigError(`OTEL_METRICS_EXPORTER takes otlp, console, prometheus or none, not "${unknown}"`);
  const plan: TelemetryPlan = {
    traces: asked("TRACES"),
    metrics: metricExporters.length > 0 || prometheusAsked,
    logs: asked("LOGS"),
    metricExporters,
    metricExport: readMetricExport(env),
    prometheus: prometheusAsked ? { port: metricsPort } : undefined,
  };
  return plan.traces || plan.metrics || plan.logs ? plan : "off";
}

function readMetricExport(env: Env): TelemetryPlan["metricExport"] {
  const [name, value] = env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL?.trim()
    ? ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL.trim()]
    : ["OTEL_EXPORTER_OTLP_PROTOCOL", env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || "http/protobuf"];
  const protocol = OTLP_PROTOCOLS.find((known) => known === value);
  if (!protocol) throw new ConfigError(`${name} must be one of ${OTLP_PROTOCOLS.join(", ")}, not "${value}"`);
  const intervalMillis = readMillis(env, "OTEL_METRIC_EXPORT_INTERVAL") ?? DEFAULT_INTERVAL_MS;
  // An export that outlasts the interval would overlap the next one; the specification's default
  // timeout is cut down to a shorter interval, and a timeout set longer than the interval is refused.
  const timeoutMillis = readMillis(env, "OTEL_METRIC_EXPORT_TIMEOUT") ?? Math.min(DEFAULT_TIMEOUT_MS, intervalMillis);
  if (timeoutMillis > intervalMillis) throw new ConfigError(`OTEL_METRIC_EXPORT_TIMEOUT (${timeoutMillis}) must not be longer than OTEL_METRIC_EXPORT_INTERVAL (${intervalMillis})`);
  return { protocol, intervalMillis, timeoutMillis };
}

function readMillis(env: Env, name: string): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a whole number of milliseconds, not "${env[name]}"`);
  return value;
}

function readMetricsPort(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`TOLLGATE_METRICS_PORT must be a port number, not "${value}"`);
  return port;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === "true";
}
