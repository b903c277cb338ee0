import { SpanKind, SpanStatusCode, context, isSpanContextValid, trace, type Span, type SpanOptions, type Tracer } from "@opentelemetry/api";
import type { LifecycleEvent } from "../lifecycle.ts";
import { ATTR, safeName } from "./attributes.ts";

/** The handler's two routes, each traced as one span. */
export const ROUTE_SPAN_NAMES = { issue: "tollgate.issue", usage: "tollgate.usage" } as const;

/** Runs one request to the token handler inside its route's span; see `routeTracer`. */
export type RouteTracer = (route: keyof typeof ROUTE_SPAN_NAMES, outcome: Partial<LifecycleEvent>, run: () => Promise<Response>) => Promise<Response>;

/**
 * Traces each request to the token handler as one span, a child of whatever span is
 * active (the app's or the runtime's server span), so that the lifecycle events and the upstream
 * attempts of the request land under it.
 *
 * `outcome` is the request's event context, filled in as the pipeline learns who asked for what;
 * its `errorType` is set when the request ends without success. Per the conventions for server
 * spans, only a 5xx marks the span as an error: a 401, 403 or 429 is the handler doing its job,
 * and it shows as `error.type` alone.
 */
export function routeTracer(tracer: Tracer): RouteTracer {
  const options: SpanOptions = { kind: SpanKind.INTERNAL };
  return (route, outcome, run) => {
    const span = tracer.startSpan(ROUTE_SPAN_NAMES[route], options);
    // With no SDK and no incoming trace, the span is a no-op that nothing downstream can use: run
    // the request as it is, without making it a context (on Deno that context alone costs about
    // 1 µs). A span that an SDK sampled out keeps its context, so that the spans below it follow
    // its decision.
    if (!span.isRecording() && !isSpanContextValid(span.spanContext())) return run();
    return context.with(trace.setSpan(context.active(), span), () => runInSpan(span, outcome, run));
  };
}

async function runInSpan(span: Span, outcome: Partial<LifecycleEvent>, run: () => Promise<Response>): Promise<Response> {
  try {
    const response = await run();
    span.setAttribute(ATTR.httpStatus, response.status);
    if (outcome.provider !== undefined) span.setAttribute(ATTR.provider, outcome.provider);
    if (outcome.profile !== undefined) span.setAttribute(ATTR.profile, safeName(outcome.profile)!);
    if (outcome.user !== undefined) span.setAttribute(ATTR.userPseudoId, outcome.user);
    if (outcome.errorType !== undefined) span.setAttribute(ATTR.errorType, safeName(outcome.errorType)!);
    if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorType });
    return response;
  } catch (error) {
    span.setAttribute(ATTR.errorType, error instanceof Error ? safeName(error.name)! : "unknown");
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
