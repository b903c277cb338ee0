import { ConfigError } from "./config.ts";

/**
 * Whether the standalone server starts the OpenTelemetry SDK, and where Prometheus is served. The
 * SDK itself (`@opentelemetry/sdk-node`) reads every other `OTEL_*` variable: exporters
 * (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`: otlp, console, none),
 * OTLP endpoints, headers, protocols (http/protobuf, http/json, grpc) and timeouts, the export
 * interval, batching, sampling, propagators, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_LOG_LEVEL` and `OTEL_SDK_DISABLED`.
 *
 * What is ours:
 * - Nothing starts unless asked: by an `OTEL_*_EXPORTER`, an OTLP endpoint, or Prometheus. A signal
 *   with neither an exporter variable nor an endpoint of its own stays off, rather than exporting
 *   to an OTLP collector on localhost that nobody runs.
 * - Prometheus (`TOLLGATE_METRICS=prometheus`, or `prometheus` in `OTEL_METRICS_EXPORTER`) is served
 *   by the server itself at `GET /metrics`, or on `TOLLGATE_METRICS_PORT` when that is set (setting
 *   it asks for Prometheus), with units in the names (`..._seconds`).
 *
 * On Deno with `OTEL_DENO=true` the runtime exports by itself, through the same API, so no SDK is
 * started here (and Prometheus is not available).
 */

export interface ServerTelemetry {
  /** `sdk` when this module started one, `deno` when Deno's own is in charge, else `off`. */
  mode: "off" | "sdk" | "deno";
  /** What each signal goes to, for the start-up banner. */
  summary: string;
  /** The Prometheus text exposition of the current metrics, when Prometheus was asked for. */
  prometheusText: (() => Promise<string>) | undefined;
  /** Where Prometheus is served: undefined for `/metrics` on the server's own port. */
  metricsPort: number | undefined;
  /** Exports what is pending and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** What the environment asks for, before the SDK reads the rest. */
export interface TelemetryPlan {
  /** Signals the SDK configures from its own variables; the others are off. */
  traces: boolean;
  metrics: boolean;
  logs: boolean;
  /** `OTEL_METRICS_EXPORTER` less `prometheus`: the SDK's own metric exporters. */
  metricExporters: string[];
  prometheus: { port: number | undefined } | undefined;
}

/** A collector that is gone must not hold the process at exit for longer than this. */
const SHUTDOWN_GRACE_MS = 5_000;

const OFF: ServerTelemetry = { mode: "off", summary: "off", prometheusText: undefined, metricsPort: undefined, shutdown: async () => {} };

export async function startTelemetry(env: Env): Promise<ServerTelemetry> {
  const plan = telemetryPlan(env);
  if (plan === "off") return OFF;
  if (plan === "deno") return { ...OFF, mode: "deno", summary: "exported by Deno (OTEL_DENO=true)" };

  // Loaded only when asked for, so that a server without telemetry never pays for the SDK.
  const { startSdk } = await import("./otel-sdk.ts");
  const sdk = startSdk(plan);
  const signals = [
    `traces: ${plan.traces ? env.OTEL_TRACES_EXPORTER?.trim() || "otlp" : "off"}`,
    `metrics: ${[...plan.metricExporters, ...(plan.prometheus ? ["prometheus"] : [])].join(", ") || "off"}`,
  ];
  if (plan.logs) signals.push(`logs: ${env.OTEL_LOGS_EXPORTER?.trim() || "otlp"}`);
  return {
    mode: "sdk",
    summary: signals.join("; "),
    prometheusText: sdk.prometheusText,
    metricsPort: plan.prometheus?.port,
    shutdown: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)));
      await Promise.race([sdk.shutdown(), grace]);
      clearTimeout(timer);
    },
  };
}

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
  const plan: TelemetryPlan = {
    traces: asked("TRACES"),
    metrics: metricExporters.length > 0 || prometheusAsked,
    logs: asked("LOGS"),
    metricExporters,
    prometheus: prometheusAsked ? { port: metricsPort } : undefined,
  };
  return plan.traces || plan.metrics || plan.logs ? plan : "off";
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
