/**
 * OpenTelemetry for tollgate, on `@opentelemetry/api` alone: tollgate never starts an SDK. Spans
 * and metrics go to the injected providers, else to the global ones an app's SDK registered.
 */
export { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, tollgateTracer, tollgateMeter, type TelemetryOptions } from "./scope.ts";
export { ATTR } from "./attributes.ts";
export { telemetryListener, eventAttributes } from "./listener.ts";
export { tokenMetrics, recordEventMetrics, type TokenMetrics } from "./metrics.ts";
export { routeTracer, ROUTE_SPAN_NAMES, type RouteTracer } from "./route-span.ts";
export { tracedMint } from "./attempt-span.ts";
export { withServerSpan, type ServerSpanOptions } from "./server-span.ts";
export { instrumentStore } from "./store-metrics.ts";
