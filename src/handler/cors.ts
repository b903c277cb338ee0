import { OptionError } from "../errors.ts";

/**
 * CORS for the two routes, so that a front end on another origin can call them: a preflight from an
 * allowed origin is answered, and every answer to it (errors included: a page cannot read a 401
 * otherwise) carries the origin back and `Vary: Origin`. Any other origin gets no CORS header at
 * all, which the browser treats as a refusal.
 */
export interface CorsOptions {
  /** Origins allowed to call, exactly as a browser sends them (`https://app.example.com`). */
  origins: readonly string[];
  /** Let pages send cookies with their requests (`fetch(..., { credentials: "include" })`). Default false. */
  credentials?: boolean;
  /** How long a browser may remember a preflight, in seconds. Default 600. */
  maxAgeSeconds?: number;
  /**
   * The request headers a page may send, as the preflight answers them. Default
   * `["Authorization", "Content-Type"]`, which the routes need; a list given replaces it, so keep
   * them in it beside the others (`traceparent` and `tracestate`, from a page traced with OpenTelemetry).
   */
  allowHeaders?: readonly string[];
}

export interface Cors {
  /** The answer to a preflight (`OPTIONS`). */
  preflight(request: Request): Response;
  /** `response` with the CORS fields for the request's origin. */
  decorate(request: Request, response: Response): Response;
}

/** Headers a page may read on an answer: how long to wait, the rate-limit fields, and the server's clock (which tells tollgate/client how long a token has left, whatever the page's clock says). */
const EXPOSED = "Retry-After, RateLimit, RateLimit-Policy, Date";

const DEFAULT_ALLOW_HEADERS = ["Authorization", "Content-Type"];
/** A header name: an HTTP token (RFC 9110 §5.1). */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function headerList(names: readonly string[]): string {
  if (!Array.isArray(names)) throw new OptionError("cors.allowHeaders", 'must be a list of header names, like ["Authorization", "Content-Type", "traceparent"]');
  for (const name of names) {
    if (typeof name !== "string" || !HEADER_NAME.test(name)) throw new OptionError("cors.allowHeaders", `${JSON.stringify(name)} is not a header name`);
  }
  return names.join(", ");
}

export function corsFor(options: CorsOptions | undefined): Cors | undefined {
  if (options === undefined) return undefined;
  if (!Array.isArray(options.origins)) throw new OptionError("cors.origins", "must be a list of origins, like [\"https://app.example.com\"]");
  const origins = new Set<string>();
  for (const origin of options.origins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new OptionError("cors.origins", `${JSON.stringify(origin)} is not an origin`);
    }
    if (parsed.origin !== origin) throw new OptionError("cors.origins", `${JSON.stringify(origin)} must be written as its origin, ${parsed.origin}`);
    origins.add(origin);
  }
  const maxAge = String(options.maxAgeSeconds ?? 600);
  const allowHeaders = headerList(options.allowHeaders ?? DEFAULT_ALLOW_HEADERS);
  const allowed = (request: Request) => {
    const origin = request.headers.get("Origin");
    return origin !== null && origins.has(origin) ? origin : undefined;
  };

  return {
    preflight(request) {
      const origin = allowed(request);
      const headers = new Headers({ Vary: "Origin", "Cache-Control": "no-store" });
      if (origin) {
        headers.set("Access-Control-Allow-Origin", origin);
        headers.set("Access-Control-Allow-Methods", "POST");
        headers.set("Access-Control-Allow-Headers", allowHeaders);
        headers.set("Access-Control-Max-Age", maxAge);
        if (options.credentials) headers.set("Access-Control-Allow-Credentials", "true");
      }
      return new Response(null, { status: 204, headers });
    },
    decorate(request, response) {
      response.headers.append("Vary", "Origin");
      const origin = allowed(request);
      if (origin) {
        response.headers.set("Access-Control-Allow-Origin", origin);
        response.headers.set("Access-Control-Expose-Headers", EXPOSED);
        if (options.credentials) response.headers.set("Access-Control-Allow-Credentials", "true");
      }
      return response;
    },
  };
}
