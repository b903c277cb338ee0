import { metrics, trace, type Meter, type MeterProvider, type Tracer, type TracerProvider } from "@opentelemetry/api";

/**
 * The instrumentation scope tollgate's spans and metrics carry: the package's name and version,
 * so a backend can tell which release produced them. `test/telemetry.test.ts` keeps the
 * version in step with package.json.
 */
export const INSTRUMENTATION_NAME = "tollgate";
export const INSTRUMENTATION_VERSION = "0.1.0";

/** Where tollgate finds its tracer and meter: the injected providers, else the global ones. */
export interface TelemetryOptions {
  /** Default: the global provider, a no-op until an SDK registers one. */
  tracerProvider?: TracerProvider;
  /** Default: the global provider, a no-op until an SDK registers one. */
  meterProvider?: MeterProvider;
}

export function tollgateTracer(provider: TracerProvider | undefined): Tracer {
  return (provider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
}

export function tollgateMeter(provider: MeterProvider | undefined): Meter {
  return (provider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
}
