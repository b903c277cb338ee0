import process from "node:process";
import { DiagConsoleLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as JsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtobufMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { NodeSDK, metrics, resources } from "@opentelemetry/sdk-node";
import { INSTRUMENTATION_VERSION } from "../src/index.ts";
import type { OtlpProtocol, TelemetryPlan } from "./otel-plan.ts";

/**
 * Starts `@opentelemetry/sdk-node` for a plan that `otel-plan.ts` read from the environment, the
 * SDK reading the `OTEL_*` variables itself. Loaded only when telemetry is on.
 */

export interface StartedSdk {
  prometheusText: (() => Promise<string>) | undefined;
  shutdown(): Promise<void>;
}

type ResourceMetrics = Awaited<ReturnType<PrometheusExporter["collect"]>>["resourceMetrics"];

/** Each reads its own endpoint, headers, compression and timeout from `OTEL_EXPORTER_OTLP_*`. */
const OTLP_METRIC_EXPORTERS: Record<OtlpProtocol, new () => metrics.PushMetricExporter> = {
  "http/protobuf": ProtobufMetricExporter,
  "http/json": JsonMetricExporter,
  grpc: GrpcMetricExporter,
};

export function startSdk(plan: TelemetryPlan): StartedSdk {
  // The SDK sets a diagnostic logger only when OTEL_LOG_LEVEL is set; a failing export should not
  // go unsaid by default.
  if (!process.env.OTEL_LOG_LEVEL?.trim()) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

  const prometheus = plan.prometheus ? prometheusReader() : undefined;
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read by the SDK's detectors, win over these.
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ "service.name": "tollgate", "service.version": INSTRUMENTATION_VERSION })),
    // Left to itself, the SDK builds the metric readers from OTEL_METRICS_EXPORTER and the
    // variables around it. Given readers, it builds none: so when metrics are off they are an
    // empty list, and with our Prometheus reader the others are built beside it here.
    ...(prometheus ? { metricReaders: [...readersFromEnv(plan), prometheus.reader] } : plan.metrics ? {} : { metricReaders: [] }),
    // A signal that nothing asked for stays off; otherwise the SDK reads its exporters from OTEL_*.
    ...(plan.traces ? {} : { spanProcessors: [] }),
    ...(plan.logs ? {} : { logRecordProcessors: [] }),
  });
  sdk.start();
  return { prometheusText: prometheus?.text, shutdown: () => sdk.shutdown() };
}

/** No server of its own: the token server (or its metrics port) answers GET /metrics with this text. */
function prometheusReader(): { reader: metrics.IMetricReader; text: () => Promise<string> } {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const serializer = new PrometheusSerializer();
  return { reader: exporter, text: async () => serializer.serialize(withUnitSuffixes((await exporter.collect()).resourceMetrics)) };
}

/**
 * The readers the SDK would build from OTEL_METRICS_EXPORTER, built here only because our
 * Prometheus reader sits beside them: the SDK takes either its own readers or ours, never both,
 * and does not export the functions it builds its own with. They read the same variables the same
 * way (otel-plan.ts has checked them), each OTLP exporter its endpoint, headers and compression.
 */
function readersFromEnv(plan: TelemetryPlan): metrics.IMetricReader[] {
  const { protocol, intervalMillis, timeoutMillis } = plan.metricExport;
  return plan.metricExporters.map(
    (name) =>
      new metrics.PeriodicExportingMetricReader({
        exporter: name === "console" ? new metrics.ConsoleMetricExporter() : new OTLP_METRIC_EXPORTERS[protocol](),
        exportIntervalMillis: intervalMillis,
        exportTimeoutMillis: timeoutMillis,
      }),
  );
}

/**
 * Prometheus names carry their unit (`..._seconds`, `..._bytes`), as the OpenTelemetry
 * specification's Prometheus compatibility asks; this exporter does not add it by itself.
 * Counters get `_total` from the serializer.
 */
const UNIT_SUFFIXES: Record<string, string> = { s: "seconds", ms: "milliseconds", By: "bytes" };

function withUnitSuffixes(resourceMetrics: ResourceMetrics): ResourceMetrics {
  return {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.map((metric) => {
        const suffix = UNIT_SUFFIXES[metric.descriptor.unit];
        if (!suffix || metric.descriptor.name.endsWith(suffix)) return metric;
        return { ...metric, descriptor: { ...metric.descriptor, name: `${metric.descriptor.name}_${suffix}` } };
      }),
    })),
  };
}
