import { TollgateError, problemResponse } from "../src/index.ts";
import { METRICS_PATH } from "./app.ts";

/** The Prometheus text at `GET /metrics`, for a port of its own (TOLLGATE_METRICS_PORT), and 404 for the rest. */
export function metricsOnly(prometheusText: () => Promise<string>): (request: Request) => Promise<Response> {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== METRICS_PATH) return problemResponse(new TollgateError("not_found", { detail: `No route for ${pathname}` }));
    if (request.method !== "GET" && request.method !== "HEAD") return problemResponse(new TollgateError("method_not_allowed", { headers: { Allow: "GET, HEAD" } }));
    return new Response(await prometheusText(), { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" } });
  };
}
