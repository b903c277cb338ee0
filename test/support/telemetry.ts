import { context, propagation, type Attributes } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";

/**
 * In-memory OpenTelemetry for the suites: spans kept by an InMemorySpanExporter, metrics read on
 * demand by a MetricReader, both behind providers the code under test receives by injection.
 */

/** A reader that exports nowhere: the test calls `collect()` when it wants the numbers. */
class OnDemandReader extends MetricReader {
  protected override async onShutdown() {}
  protected override async onForceFlush() {}
}

export interface TestTelemetry {
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  spans(): ReadableSpan[];
  /** Every metric by name, as collected now. */
  metrics(): Promise<Map<string, MetricData>>;
  collect(): Promise<ResourceMetrics>;
}

export function inMemoryTelemetry(): TestTelemetry {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    collect: async () => (await reader.collect()).resourceMetrics,
    metrics: async () => {
      const { resourceMetrics } = await reader.collect();
      const byName = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
      return byName;
    },
  };
}

/**
 * What every SDK setup registers besides providers: a context manager, so that spans follow a
 * request across awaits, and the W3C trace-context propagator, so that `traceparent` is read.
 */
export function useSdkGlobals(): () => void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return () => {
    context.disable();
    propagation.disable();
  };
}

function matches(attributes: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([key, value]) => attributes[key] === value);
}

/** The sum of a counter's points whose attributes include `wanted`; 0 when there are none. */
export function counterValue(metric: MetricData | undefined, wanted: Attributes = {}): number {
  if (!metric) return 0;
  return (metric.dataPoints as DataPoint<number>[]).filter((point) => matches(point.attributes, wanted)).reduce((sum, point) => sum + point.value, 0);
}

/** A histogram's count and sum over the points whose attributes include `wanted`. */
export function histogramValue(metric: MetricData | undefined, wanted: Attributes = {}): { count: number; sum: number } {
  const total = { count: 0, sum: 0 };
  if (!metric) return total;
  for (const point of metric.dataPoints as DataPoint<Histogram>[]) {
    if (!matches(point.attributes, wanted)) continue;
    total.count += point.value.count;
    total.sum += point.value.sum ?? 0;
  }
  return total;
}

/** The names of a span's events, in order. */
export function spanEvents(span: ReadableSpan | undefined): string[] {
  return (span?.events ?? []).map((event) => event.name);
}
