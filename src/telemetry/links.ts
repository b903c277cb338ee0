import { TraceFlags, trace } from "@opentelemetry/api";
import { ATTR } from "./attributes.ts";

/** A span, as a token's record keeps it: enough for a later span to link to it. */
export interface SpanReference {
  traceId: string;
  spanId: string;
}

/** The active span, when it is recording: the one a token's later reports will link to. */
export function activeSpanReference(): SpanReference | undefined {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

/**
 * Links the active span to `reference`, so that one click in a tracing backend goes from a
 * session's report to the span that minted its token.
 */
export function linkActiveSpanTo(reference: SpanReference | undefined, attributes?: Record<string, string | number>): void {
  if (!reference) return;
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  span.addLink({ context: { traceId: reference.traceId, spanId: reference.spanId, traceFlags: TraceFlags.SAMPLED }, attributes });
}

/**
 * The token's session on the active span (a usage span): the provider's id of it, so that a trace
 * names the session the provider knows, and its reported length in seconds once it ended.
 */
export function sessionOnActiveSpan(sessionId: string | undefined, durationMs?: number): void {
  if (!sessionId && durationMs === undefined) return;
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  if (sessionId) span.setAttribute(ATTR.sessionId, sessionId);
  if (durationMs !== undefined) span.setAttribute(ATTR.sessionDuration, durationMs / 1000);
}
