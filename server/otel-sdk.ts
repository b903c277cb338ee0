import { DiagConsoleLogger, DiagLogLevel, context, diag, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter as OTLPJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { INSTRUMENTATION_VERSION } from "../src/index.ts";

/**
 * Builds and registers the OpenTelemetry SDK from a plan that `otel.ts` read from the environment.
 * Loaded only when telemetry is on, so a server without it never pays for the SDK.
 */

export interface SdkPlan {
  traces: Array<"otlp" | "console">;
  metrics: Array<"otlp" | "console" | "prometheus">;
  tracesProtocol: "http/protobuf" | "http/json";
  metricsProtocol: "http/protobuf" | "http/json";
  metricExportIntervalMs: number;
  metricExportTimeoutMs: number;
  /** How much the SDK says about itself (a failing export, say), from `OTEL_LOG_LEVEL`. */
  logLevel: keyof typeof DiagLogLevel;
}

export interface StartedSdk {
  prometheusText: (() => Promise<string>) | undefined;
  shutdown(): Promise<void>;
}

export function startSdk(plan: SdkPlan): StartedSdk {
  if (plan.logLevel !== "NONE") diag.setLogger(new DiagConsoleLogger(), DiagLogLevel[plan.logLevel]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) win over our defaults.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "tollgate", "service.version": INSTRUMENTATION_VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
  const shutdowns: Array<() => Promise<void>> = [];

  if (plan.traces.length > 0) {
    // The batch processor reads OTEL_BSP_* itself; the OTLP exporters read OTEL_EXPORTER_OTLP_*.
    const spanProcessors = plan.traces.map((name) => new BatchSpanProcessor(spanExporter(name, plan.tracesProtocol)));
    const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });
    // Spans follow a request across awaits, and incoming `traceparent` and `baggage` are read.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    trace.setGlobalTracerProvider(tracerProvider);
    shutdowns.push(() => tracerProvider.shutdown());
  }

  let prometheusText: StartedSdk["prometheusText"];
  if (plan.metrics.length > 0) {
    const readers: MetricReader[] = plan.metrics.map((name) => {
      if (name === "prometheus") {
        // No server of its own: the token server answers GET /metrics with this text.
        const exporter = new PrometheusExporter({ preventServerStart: true });
        const serializer = new PrometheusSerializer();
        prometheusText = async () => serializer.serialize((await exporter.collect()).resourceMetrics);
        return exporter;
      }
      const exporter = name === "console" ? new ConsoleMetricExporter() : plan.metricsProtocol === "http/json" ? new OTLPJsonMetricExporter() : new OTLPProtoMetricExporter();
      return new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: plan.metricExportIntervalMs, exportTimeoutMillis: plan.metricExportTimeoutMs });
    });
    const meterProvider = new MeterProvider({ resource, readers });
    metrics.setGlobalMeterProvider(meterProvider);
    shutdowns.push(() => meterProvider.shutdown());
  }

  return {
    prometheusText,
    shutdown: async () => {
      await Promise.allSettled(shutdowns.map((shutdown) => shutdown()));
    },
  };
}

function spanExporter(name: "otlp" | "console", protocol: SdkPlan["tracesProtocol"]): SpanExporter {
  if (name === "console") return new ConsoleSpanExporter();
  return protocol === "http/json" ? new OTLPJsonTraceExporter() : new OTLPProtoTraceExporter();
}
