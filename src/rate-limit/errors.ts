/**
 * Thrown by a limiter whose store failed under the `closed` policy. It is a 503, never a 429: the
 * user did nothing wrong. `cause` holds the store's own error for the server's log only.
 */
export class StoreUnavailableError extends Error {
  readonly code = "store_unavailable";
  readonly status = 503;

  constructor(cause: unknown) {
    super("The rate-limit store is unavailable", { cause });
    this.name = "StoreUnavailableError";
  }
}
