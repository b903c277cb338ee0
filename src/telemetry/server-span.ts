import { SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type MeterProvider, type TextMapGetter, type TracerProvider } from "@opentelemetry/api";
import { ATTR } from "./attributes.ts";
import { tollgateMeter, tollgateTracer } from "./scope.ts";

export interface ServerSpanOptions {
  /** Default: the global provider. */
  tracerProvider?: TracerProvider;
  /** For `http.server.request.duration` and `tollgate.http.server.failures`. Default: the global provider. */
  meterProvider?: MeterProvider;
  /**
   * The paths this server answers. They are the only ones a span names: any other path could be
   * anything a client typed, so it shows as `http.route` unset and no `url.path`.
   */
  routes: readonly string[];
}

/** The HTTP semantic conventions' buckets for `http.server.request.duration`. */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/**
 * A SERVER span per request for a fetch handler served without HTTP instrumentation, continuing
 * the caller's trace from its `traceparent` header. When a span is already active, because the
 * runtime made one (Deno with `OTEL_DENO=true`) or the app's instrumentation did, it is enriched
 * with the route instead, so that a request never gets two server spans.
 */
export function withServerSpan(fetch: (request: Request) => Promise<Response>, options: ServerSpanOptions): (request: Request) => Promise<Response> {
  const tracer = tollgateTracer(options.tracerProvider);
  const routes = new Set(options.routes);
  const meter = tollgateMeter(options.meterProvider);
  const duration = meter.createHistogram("http.server.request.duration", {
    unit: "s",
    description: "Time to answer an HTTP request, as the HTTP semantic conventions define it.",
    advice: { explicitBucketBoundaries: HTTP_DURATION_BUCKETS },
  });
  const failures = meter.createCounter("tollgate.http.server.failures", { unit: "{request}", description: "Answers with a 4xx or 5xx status, by route and status class." });

  /** One point per answer; the method is one the conventions know, or `_OTHER`. */
  const record = (request: Request, route: string | undefined, started: number, status: number | undefined, errorType?: string) => {
    const labels: Attributes = { [ATTR.httpMethod]: KNOWN_METHODS.has(request.method) ? request.method : "_OTHER" };
    if (route) labels[ATTR.httpRoute] = route;
    if (status !== undefined) labels[ATTR.httpStatus] = status;
    if (errorType) labels[ATTR.errorType] = errorType;
    duration.record((performance.now() - started) / 1000, labels);
    if (status === undefined || status >= 400) failures.add(1, { ...labels, [ATTR.statusClass]: status === undefined ? "5xx" : `${Math.floor(status / 100)}xx` });
  };

  return async (request) => {
    const started = performance.now();
    const url = new URL(request.url);
    const route = routes.has(url.pathname) ? url.pathname : undefined;
    const name = route ? `${request.method} ${route}` : request.method;

    const active = trace.getActiveSpan();
    if (active?.isRecording()) {
      // The runtime made the server span, and it records the request's duration too (Deno does).
      if (route) {
        active.updateName(name);
        active.setAttribute("http.route", route);
      }
      return fetch(request);
    }

    const attributes: Attributes = {
      [ATTR.httpMethod]: request.method,
      "url.scheme": url.protocol.replace(/:$/, ""),
      [ATTR.serverAddress]: url.hostname,
    };
    if (url.port) attributes[ATTR.serverPort] = Number(url.port);
    if (route) {
      attributes["http.route"] = route;
      attributes["url.path"] = route;
    }
    const parent = propagation.extract(context.active(), request.headers, headerGetter);
    return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
      try {
        const response = await fetch(request);
        span.setAttribute(ATTR.httpStatus, response.status);
        // Server spans are errors on 5xx only: a 4xx is the client's mistake, answered correctly.
        if (response.status >= 500) {
          span.setAttribute(ATTR.errorType, String(response.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        record(request, route, started, response.status, response.status >= 500 ? String(response.status) : undefined);
        return response;
      } catch (error) {
        const errorType = error instanceof Error ? error.name : "unknown";
        span.setAttribute(ATTR.errorType, errorType);
        span.setStatus({ code: SpanStatusCode.ERROR });
        record(request, route, started, undefined, errorType);
        throw error;
      } finally {
        span.end();
      }
    });
  };
}
