import { AsyncLocalStorage } from "node:async_hooks";
import { problemType, type Logger } from "../src/index.ts";

/**
 * A log line for each request answered 5xx (its time, request id, method, route, status and
 * duration), except a 503 for a store that is down, which has lines of its own; and the same
 * request id and route on every line the handler writes while answering any request, such as the
 * cause chain of that 5xx. Answers below 500 are the server doing its job and print nothing. The id
 * is the caller's `X-Request-Id` when it looks like one, so that a proxy's id follows the request
 * through; it goes back on the answer either way.
 */

interface RequestFields {
  requestId: string;
  route: string | null;
}

const current = new AsyncLocalStorage<RequestFields>();
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** `logger`, with the request id and route of the request being answered on every line. */
export function withRequestFields(logger: Logger): Logger {
  const add = (fields: Record<string, unknown>) => ({ ...current.getStore(), ...fields });
  return {
    error: (fields, message) => logger.error(add(fields), message),
    warn: (fields, message) => logger.warn(add(fields), message),
    info: (fields, message) => logger.info(add(fields), message),
  };
}

export interface RequestLogOptions {
  /** The paths this server answers; any other shows as `route: null`, never as what the client typed. */
  routes: readonly string[];
}

export function withRequestLog(fetch: (request: Request) => Promise<Response>, logger: Logger, options: RequestLogOptions): (request: Request) => Promise<Response> {
  const routes = new Set(options.routes);
  return async (request) => {
    const started = performance.now();
    const given = request.headers.get("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    const { pathname } = new URL(request.url);
    const route = routes.has(pathname) ? pathname : null;
    const response = await current.run({ requestId, route }, () => fetch(request));
    const fields = { requestId, method: request.method, route, status: response.status, durationMs: Math.round((performance.now() - started) * 10) / 10 };
    if (response.status >= 500 && !(await isStoreOutage(response))) logger.error(fields, "request failed");
    return withHeader(response, "X-Request-Id", requestId);
  };
}

const STORE_UNAVAILABLE = problemType("store_unavailable");

/**
 * A 503 for a store that is down: the handler's store-failure log tells of it (once, then how many
 * failures since) and /readyz logs the store going down and coming back, so a line for each request
 * refused meanwhile would only repeat them. Read from the answer's problem type, on 503s alone.
 */
async function isStoreOutage(response: Response): Promise<boolean> {
  if (response.status !== 503 || response.headers.get("Content-Type") !== "application/problem+json") return false;
  const problem = (await response.clone().json().catch(() => undefined)) as { type?: unknown } | undefined;
  return problem?.type === STORE_UNAVAILABLE;
}

/** Answers made elsewhere (fetch's, say) may have immutable headers; those get a copy. */
function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set(name, value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
