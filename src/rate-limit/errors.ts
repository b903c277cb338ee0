import { TollgateError } from "../errors.ts";

/**
 * Thrown by a limiter whose store failed under the `closed` policy: a 503 `store_unavailable`,
 * never a 429, since the user did nothing wrong. `cause` holds the store's own error for the
 * server's log only.
 */
export class StoreUnavailableError extends TollgateError {
  constructor(cause: unknown) {
    super("store_unavailable", { detail: "The rate-limit store is unavailable", retryAfter: 5, cause });
    this.name = "StoreUnavailableError";
  }
}
