import { ConfigError } from "./config.ts";
import type { SdkPlan } from "./otel-sdk.ts";

/**
 * Whether and how the standalone server starts the OpenTelemetry SDK, read from the standard
 * variables. Nothing starts unless they ask for it:
 *
 * - traces: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`); unset means `otlp` when an OTLP
 *   endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), else none.
 * - metrics: `OTEL_METRICS_EXPORTER` (`otlp`, `prometheus`, `console`, `none`, comma-separated);
 *   unset means `otlp` when an OTLP endpoint is set. `TOLLGATE_METRICS=prometheus` adds Prometheus.
 *   Prometheus is served by the server itself at `GET /metrics`, not on a port of its own.
 * - OTLP goes over HTTP: `OTEL_EXPORTER_OTLP_PROTOCOL` (or the per-signal variable) is
 *   `http/protobuf` (the default) or `http/json`; gRPC is refused at start-up. Endpoints, headers
 *   and timeouts are read by the exporters from the usual `OTEL_EXPORTER_OTLP_*` variables.
 * - `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60000), `OTEL_BSP_SCHEDULE_DELAY` and the other
 *   batch variables, `OTEL_SERVICE_NAME` (default `tollgate`), `OTEL_RESOURCE_ATTRIBUTES`.
 * - `OTEL_LOG_LEVEL` (`none`, `error`, `warn` (the default), `info`, `debug`, `verbose`, `all`): what the
 *   SDK reports about itself on the console, such as an export that failed.
 * - `OTEL_SDK_DISABLED=true` turns all of it off.
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
  /** Exports what is pending and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** A collector that is gone must not hold the process at exit for longer than this. */
const SHUTDOWN_GRACE_MS = 5_000;

const OFF: ServerTelemetry = { mode: "off", summary: "off", prometheusText: undefined, shutdown: async () => {} };

export async function startTelemetry(env: Env): Promise<ServerTelemetry> {
  const plan = telemetryPlan(env);
  if (plan === "off") return OFF;
  if (plan === "deno") return { ...OFF, mode: "deno", summary: "exported by Deno (OTEL_DENO=true)" };

  const { startSdk } = await import("./otel-sdk.ts");
  const sdk = startSdk(plan);
  return {
    mode: "sdk",
    summary: `traces: ${plan.traces.join(", ") || "none"}; metrics: ${plan.metrics.join(", ") || "none"}`,
    prometheusText: sdk.prometheusText,
    shutdown: async () => {
      const grace = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS));
      await Promise.race([sdk.shutdown(), grace]);
    },
  };
}

/** What the environment asks for; throws a ConfigError naming the variable that makes no sense. */
export function telemetryPlan(env: Env): SdkPlan | "off" | "deno" {
  if (isTrue(env.OTEL_SDK_DISABLED)) return "off";
  const prometheusAsked = env.TOLLGATE_METRICS?.trim().toLowerCase() === "prometheus";

  if (isTrue(env.OTEL_DENO) && "Deno" in globalThis) {
    if (prometheusAsked || list(env.OTEL_METRICS_EXPORTER).includes("prometheus")) {
      throw new ConfigError("Prometheus at /metrics needs the OpenTelemetry SDK; with OTEL_DENO=true, Deno exports OTLP instead");
    }
    return "deno";
  }

  const hasEndpoint = (signal: "TRACES" | "METRICS") => Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim());
  const traces = exporterList(env, "OTEL_TRACES_EXPORTER", hasEndpoint("TRACES"), ["otlp", "console"] as const);
  const metrics = exporterList(env, "OTEL_METRICS_EXPORTER", hasEndpoint("METRICS"), ["otlp", "console", "prometheus"] as const);
  if (prometheusAsked && !metrics.includes("prometheus")) metrics.push("prometheus");
  if (traces.length === 0 && metrics.length === 0) return "off";

  const metricExportIntervalMs = positiveInteger(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000);
  return {
    traces,
    metrics,
    tracesProtocol: otlpProtocol(env, "TRACES"),
    metricsProtocol: otlpProtocol(env, "METRICS"),
    metricExportIntervalMs,
    // The SDK refuses a timeout longer than the interval.
    metricExportTimeoutMs: Math.min(positiveInteger(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30_000), metricExportIntervalMs),
    logLevel: logLevel(env.OTEL_LOG_LEVEL),
  };
}

function exporterList<Name extends string>(env: Env, variable: string, endpointSet: boolean, known: readonly Name[]): Name[] {
  const value = env[variable];
  const names = value === undefined || value.trim() === "" ? (endpointSet ? ["otlp"] : []) : list(value);
  if (names.includes("none")) return [];
  for (const name of names) {
    if (!(known as readonly string[]).includes(name)) throw new ConfigError(`${variable}: "${name}" is not one of ${known.join(", ")}, none`);
  }
  return [...new Set(names)] as Name[];
}

function otlpProtocol(env: Env, signal: "TRACES" | "METRICS"): SdkPlan["tracesProtocol"] {
  const variable = env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`]?.trim() ? `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL` : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = env[variable]?.trim() || "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new ConfigError(`${variable}: "${protocol}" is not supported; use http/protobuf or http/json`);
  }
  return protocol;
}

const LOG_LEVELS = ["NONE", "ERROR", "WARN", "INFO", "DEBUG", "VERBOSE", "ALL"] as const;

function logLevel(value: string | undefined): SdkPlan["logLevel"] {
  const level = (value?.trim() || "warn").toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`OTEL_LOG_LEVEL: "${value}" is not one of ${LOG_LEVELS.join(", ").toLowerCase()}`);
  return level as SdkPlan["logLevel"];
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

function positiveInteger(env: Env, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (!value) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new ConfigError(`${name} must be a whole number of milliseconds, not "${value}"`);
  return number;
}
