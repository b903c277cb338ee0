import { TollgateError, problemResponse } from "../errors.ts";
import type { EventEmitter, LifecycleEvent } from "../lifecycle.ts";
import type { Logger } from "../log.ts";

/**
 * The handler's answer to anything that went wrong: the problem+json response, the lifecycle event
 * that says so, and, for the server's own failures, a log line with the whole cause chain, the
 * providers' secrets redacted. A store that is down is logged by the handler's store-failure log.
 */
export function errorAnswer(emit: EventEmitter, logger: Logger, redact: (text: string) => string) {
  return (error: unknown, context: Partial<LifecycleEvent>): Response => {
    const known = error instanceof TollgateError ? error : new TollgateError("internal", { cause: error });
    context.errorType = known.code;
    if (known.code === "unauthenticated" || known.code === "forbidden") {
      emit("denied", context, { status: known.status, errorType: known.code });
    } else if (known.code !== "rate_limited") {
      emit("failed", context, { status: known.status, errorType: known.code });
    }
    // A store that fails has told the store-failure log already, which says so once and then how
    // many times since, rather than a line for every request refused while it is down.
    if (known.status >= 500 && known.code !== "store_unavailable") {
      const cause = causeChain(known.cause);
      logger.error({ code: known.code, status: known.status, ...(cause ? { cause: redact(cause) } : {}) }, known.detail);
    }
    return problemResponse(known);
  };
}

/**
 * `TypeError: fetch failed <- Error: connect ECONNREFUSED 127.0.0.1:1`: each error's name, message
 * and code, following `cause`, so that a log says what failed and not only that something did.
 */
export function causeChain(error: unknown, depth = 0): string | undefined {
  if (!(error instanceof Error) || depth > 5) return undefined;
  const code = (error as { code?: unknown }).code;
  const own = `${error.name}: ${error.message}${typeof code === "string" && !error.message.includes(code) ? ` (${code})` : ""}`;
  const deeper = causeChain(error.cause, depth + 1);
  return deeper ? `${own} <- ${deeper}` : own;
}
