import { ConfigError } from "./config.ts";

/**
 * What the environment asks of telemetry, read before anything starts, so that a variable that
 * makes no sense stops the server with its name. The SDK (`@opentelemetry/sdk-node`) reads the
 * `OTEL_*` variables itself: exporters, OTLP endpoints, protocols, headers, compression and
 * timeouts, the metric export interval and timeout, batching, sampling, propagators,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_LOG_LEVEL`.
 *
 * What is ours:
 * - Nothing starts unless asked: by an `OTEL_*_EXPORTER`, an OTLP endpoint, or Prometheus. A signal
 *   with neither an exporter variable nor an endpoint of its own stays off, rather than exporting
 *   to an OTLP collector on localhost that nobody runs (the SDK's default).
 * - Prometheus is served by the server itself, with units in the names (`..._seconds`), which the
 *   SDK's Prometheus exporter does not add: at `GET /metrics` on the server's port
 *   (`TOLLGATE_METRICS=prometheus`), on `TOLLGATE_METRICS_PORT`, or, for `prometheus` in
 *   `OTEL_METRICS_EXPORTER`, where the SDK would serve it (`OTEL_EXPORTER_PROMETHEUS_HOST` and
 *   `OTEL_EXPORTER_PROMETHEUS_PORT`, default port 9464).
 * - The values the SDK would only warn about and replace (a protocol it does not know, an interval
 *   that is not a number, a timeout longer than the interval) stop the server instead. With
 *   Prometheus beside them, the metric readers are built by `otel-sdk.ts` from these same values.
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
  /**
   * Where the server serves Prometheus text: `port` undefined for `/metrics` on its own port;
   * otherwise on that port, on `host` (undefined: `HOST`), `variable` naming where the port came from.
   */
  prometheus: { port: number | undefined; host?: string; variable?: string } | undefined;
}

/** Where the SDK's own Prometheus exporter listens unless OTEL_EXPORTER_PROMETHEUS_PORT says otherwise. */
const SDK_PROMETHEUS_PORT = 9464;

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
    prometheus: prometheusAsked ? prometheusPlace(env, metricsVariable === "prometheus", metricsPort) : undefined,
  };
  return plan.traces || plan.metrics || plan.logs ? plan : "off";
}

/**
 * TOLLGATE_METRICS_PORT first, then `/metrics` on the server's port for TOLLGATE_METRICS; asked for
 * by OTEL_METRICS_EXPORTER alone, where the SDK would serve it.
 */
function prometheusPlace(env: Env, onServerPort: boolean, metricsPort: number | undefined): NonNullable<TelemetryPlan["prometheus"]> {
  if (metricsPort !== undefined) return { port: metricsPort, variable: "TOLLGATE_METRICS_PORT" };
  if (onServerPort) return { port: undefined };
  const port = readPort("OTEL_EXPORTER_PROMETHEUS_PORT", env.OTEL_EXPORTER_PROMETHEUS_PORT) ?? SDK_PROMETHEUS_PORT;
  return { port, host: env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim() || undefined, variable: "OTEL_EXPORTER_PROMETHEUS_PORT" };
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
  return readPort("TOLLGATE_METRICS_PORT", value);
}

function readPort(name: string, value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`${name} must be a port number, not "${value}"`);
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
