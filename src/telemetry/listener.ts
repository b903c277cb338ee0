import { createNoopMeter, trace, type Attributes } from "@opentelemetry/api";
import type { EventListener, LifecycleEvent } from "../lifecycle.ts";
import { ATTR, safeName } from "./attributes.ts";
import { recordEventMetrics, tokenMetrics } from "./metrics.ts";
import { tollgateMeter, type TelemetryOptions } from "./scope.ts";

/**
 * Turns lifecycle events into telemetry: each event becomes a span event named `tollgate.<event>`
 * on the active span (the issue or usage span tollgate opened, or the app's own span) and the
 * metric points listed in `metrics.ts`. Reading the active span relies on a context manager, which
 * every OpenTelemetry SDK setup registers; without one, metrics are still recorded.
 *
 * It hears an event only when something would record it: a meter from an SDK, or a recording span.
 * With no SDK the meter is the API's no-op one for good (the API hands out the meter itself, not a
 * stand-in that an SDK registered later would fill), and spans do not record.
 */
export function telemetryListener(options: Pick<TelemetryOptions, "meterProvider"> = {}): EventListener {
  const meter = tollgateMeter(options.meterProvider);
  const metrics = tokenMetrics(meter);
  const recordsMetrics = meter !== createNoopMeter();
  const listener = (event: LifecycleEvent) => {
    recordEventMetrics(metrics, event);
    const span = trace.getActiveSpan();
    if (span?.isRecording()) span.addEvent(`tollgate.${event.name}`, eventAttributes(event), event.time);
  };
  return Object.assign(listener, { hears: () => recordsMetrics || trace.getActiveSpan()?.isRecording() === true });
}

/** An event's fields as attributes, minus free text: every value is a name, a number or a flag. */
export function eventAttributes(event: LifecycleEvent): Attributes {
  const attributes: Attributes = {};
  if (event.provider !== undefined) attributes[ATTR.provider] = event.provider;
  if (event.profile !== undefined) attributes[ATTR.profile] = safeName(event.profile);
  if (event.user !== undefined) attributes[ATTR.userPseudoId] = event.user;
  if (event.token !== undefined) attributes[ATTR.tokenFingerprint] = event.token;
  if (event.attempt !== undefined) attributes[ATTR.attempt] = event.attempt;
  if (event.delayMs !== undefined) attributes[ATTR.retryDelay] = event.delayMs / 1000;
  if (event.errorType !== undefined) attributes[ATTR.errorType] = safeName(event.errorType);
  if (event.status !== undefined) attributes[ATTR.httpStatus] = event.status;
  if (event.durationMs !== undefined) attributes[ATTR.duration] = event.durationMs / 1000;
  if (event.cacheHit !== undefined) attributes[ATTR.cacheHit] = event.cacheHit;
  if (event.reason !== undefined) attributes[ATTR.evictionReason] = safeName(event.reason);
  if (event.limit !== undefined) attributes[ATTR.rateLimitName] = safeName(event.limit);
  return attributes;
}
