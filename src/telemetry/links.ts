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

/** The provider's id of the token's session on the active span, so that a trace names the session the provider knows. */
export function sessionOnActiveSpan(sessionId: string | undefined): void {
  if (!sessionId) return;
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttribute(ATTR.sessionId, sessionId);
}

/** A session's reported length on the active span (the usage span of its `ended`), in seconds. */
export function sessionDurationOnActiveSpan(durationMs: number | undefined): void {
  if (durationMs === undefined) return;
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttribute(ATTR.sessionDuration, durationMs / 1000);
}
