import { context, metrics, propagation, trace, type TracerProvider } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter as OTLPJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { INSTRUMENTATION_VERSION } from "../src/index.ts";
import { ConfigError } from "./config.ts";

/**
 * The standalone server's OpenTelemetry SDK, started only when the standard variables ask for it:
 *
 * - traces: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`); unset means `otlp` when an OTLP
 *   endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), else none.
 * - metrics: `OTEL_METRICS_EXPORTER` (`otlp`, `prometheus`, `console`, `none`, comma-separated);
 *   unset means `otlp` when an OTLP endpoint is set. `TOLLGATE_METRICS=prometheus` adds Prometheus.
 *   Prometheus is served by the server itself at `GET /metrics`, not on a port of its own.
 * - OTLP goes over HTTP: `OTEL_EXPORTER_OTLP_PROTOCOL` (or the per-signal variable) is
 *   `http/protobuf` (the default) or `http/json`. Endpoints, headers and timeouts are read by the
 *   exporters from the usual `OTEL_EXPORTER_OTLP_*` variables.
 * - `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60000), `OTEL_BSP_SCHEDULE_DELAY` and the other
 *   batch variables, `OTEL_SERVICE_NAME` (default `tollgate`), `OTEL_RESOURCE_ATTRIBUTES`.
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

const SHUTDOWN_GRACE_MS = 5_000;

const OFF: ServerTelemetry = { mode: "off", summary: "off", prometheusText: undefined, shutdown: async () => {} };

export function startTelemetry(env: Env): ServerTelemetry {
  if (isTrue(env.OTEL_SDK_DISABLED)) return OFF;
  const prometheusAsked = env.TOLLGATE_METRICS?.trim().toLowerCase() === "prometheus";

  if (isTrue(env.OTEL_DENO) && "Deno" in globalThis) {
    if (prometheusAsked || list(env.OTEL_METRICS_EXPORTER).includes("prometheus")) {
      throw new ConfigError("Prometheus at /metrics needs the OpenTelemetry SDK; with OTEL_DENO=true, Deno exports OTLP instead");
    }
    return { ...OFF, mode: "deno", summary: "exported by Deno (OTEL_DENO=true)" };
  }

  const hasEndpoint = (signal: "TRACES" | "METRICS") => Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim());
  const traceExporters = exporterList(env.OTEL_TRACES_EXPORTER, hasEndpoint("TRACES"), "OTEL_TRACES_EXPORTER", ["otlp", "console"]);
  const metricExporters = exporterList(env.OTEL_METRICS_EXPORTER, hasEndpoint("METRICS"), "OTEL_METRICS_EXPORTER", ["otlp", "console", "prometheus"]);
  if (prometheusAsked && !metricExporters.includes("prometheus")) metricExporters.push("prometheus");
  if (traceExporters.length === 0 && metricExporters.length === 0) return OFF;

  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "tollgate", "service.version": INSTRUMENTATION_VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
  const shutdowns: Array<() => Promise<void>> = [];

  if (traceExporters.length > 0) {
    const protocol = otlpProtocol(env, "TRACES");
    const spanProcessors: SpanProcessor[] = traceExporters.map(
      (name) => new BatchSpanProcessor(name === "console" ? new ConsoleSpanExporter() : protocol === "http/json" ? new OTLPJsonTraceExporter() : new OTLPProtoTraceExporter()),
    );
    const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });
    registerTracing(tracerProvider);
    shutdowns.push(() => tracerProvider.shutdown());
  }

  let prometheusText: ServerTelemetry["prometheusText"];
  if (metricExporters.length > 0) {
    const protocol = otlpProtocol(env, "METRICS");
    const exportIntervalMillis = positiveInteger(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000);
    const exportTimeoutMillis = Math.min(positiveInteger(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30_000), exportIntervalMillis);
    const readers: MetricReader[] = [];
    for (const name of metricExporters) {
      if (name === "prometheus") {
        const exporter = new PrometheusExporter({ preventServerStart: true });
        const serializer = new PrometheusSerializer();
        prometheusText = async () => serializer.serialize((await exporter.collect()).resourceMetrics);
        readers.push(exporter);
      } else {
        const exporter = name === "console" ? new ConsoleMetricExporter() : protocol === "http/json" ? new OTLPJsonMetricExporter() : new OTLPProtoMetricExporter();
        readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis, exportTimeoutMillis }));
      }
    }
    const meterProvider = new MeterProvider({ resource, readers });
    metrics.setGlobalMeterProvider(meterProvider);
    shutdowns.push(() => meterProvider.shutdown());
  }

  const summary = [`traces: ${traceExporters.join(", ") || "none"}`, `metrics: ${metricExporters.join(", ") || "none"}`].join("; ");
  return {
    mode: "sdk",
    summary,
    prometheusText,
    shutdown: async () => {
      // A collector that is gone must not hold the process: exporting gets a few seconds at most.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref?.());
      await Promise.race([Promise.allSettled(shutdowns.map((shutdown) => shutdown())), deadline]);
    },
  };
}

/** Spans follow a request across awaits, and incoming `traceparent` and `baggage` headers are read. */
function registerTracing(tracerProvider: TracerProvider) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(tracerProvider);
}

function exporterList(value: string | undefined, endpointSet: boolean, name: string, known: string[]): string[] {
  const names = value === undefined || value.trim() === "" ? (endpointSet ? ["otlp"] : []) : list(value);
  if (names.includes("none")) return [];
  for (const exporter of names) {
    if (!known.includes(exporter)) throw new ConfigError(`${name}: "${exporter}" is not one of ${known.join(", ")}, none`);
  }
  return [...new Set(names)];
}

function otlpProtocol(env: Env, signal: "TRACES" | "METRICS"): "http/protobuf" | "http/json" {
  const variable = env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ? `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL` : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = env[variable]?.trim() || "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new ConfigError(`${variable}: "${protocol}" is not supported; use http/protobuf or http/json`);
  }
  return protocol;
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
