import { SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type TextMapGetter, type TracerProvider } from "@opentelemetry/api";
import { ATTR } from "./attributes.ts";
import { tollgateTracer } from "./scope.ts";

export interface ServerSpanOptions {
  /** Default: the global provider. */
  tracerProvider?: TracerProvider;
  /**
   * The paths this server answers. They are the only ones a span names: any other path could be
   * anything a client typed, so it shows as `http.route` unset and no `url.path`.
   */
  routes: readonly string[];
}

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

  return async (request) => {
    const url = new URL(request.url);
    const route = routes.has(url.pathname) ? url.pathname : undefined;
    const name = route ? `${request.method} ${route}` : request.method;

    const active = trace.getActiveSpan();
    if (active?.isRecording()) {
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
        return response;
      } catch (error) {
        span.setAttribute(ATTR.errorType, error instanceof Error ? error.name : "unknown");
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}
