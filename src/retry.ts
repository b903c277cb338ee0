/**
 * Retries for upstream calls: capped exponential backoff with full jitter, the upstream's
 * `Retry-After` honoured up to a cap, a timeout per attempt, one deadline over all attempts, and a
 * budget so that a dead upstream is not hammered by every request's retries at once.
 */

export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  attempts?: number;
  /** Backoff before the first retry; it doubles each time. Default 250 ms. */
  baseDelayMs?: number;
  /** Backoff never exceeds this. Default 4 s. */
  maxDelayMs?: number;
  /**
   * A `Retry-After` longer than this ends the retries at once (the caller gets a 503 carrying it),
   * rather than holding the request open. Default 5 s.
   */
  maxRetryAfterMs?: number;
  /** One attempt is abandoned after this. Default 5 s. */
  attemptTimeoutMs?: number;
  /** All attempts and waits together end by this. Default 12 s. */
  deadlineMs?: number;
  /**
   * Retries allowed per first attempt, averaged over time: 0.2 lets one request in five retry once
   * when the upstream is failing everyone. Default 0.2.
   */
  budgetRatio?: number;
  /** Retries always available each second, whatever the traffic: the budget's floor. Default 10. */
  budgetMinRetries?: number;
  /** Jitter source, for tests. Default `Math.random`. */
  random?: () => number;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  return {
    attempts: options.attempts ?? 3,
    baseDelayMs: options.baseDelayMs ?? 250,
    maxDelayMs: options.maxDelayMs ?? 4_000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 5_000,
    attemptTimeoutMs: options.attemptTimeoutMs ?? 5_000,
    deadlineMs: options.deadlineMs ?? 12_000,
    budgetRatio: options.budgetRatio ?? 0.2,
    budgetMinRetries: options.budgetMinRetries ?? 10,
    random: options.random ?? Math.random,
  };
}

/** Full jitter: a uniform wait between zero and the capped exponential step. */
export function backoffDelay(retry: number, options: ResolvedRetryOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(options.random() * ceiling);
}

/**
 * How many retries the upstream may get, so that retries stay a fraction of traffic however many
 * requests fail together. Two parts: a floor of `minRetries` that refills with time (a second's
 * worth every second), so that after an idle spell one transient failure still gets its retry;
 * and what traffic earned, `ratio` per first attempt, for bursts beyond the floor.
 */
export class RetryBudget {
  private floor: number;
  private floorCheckedAt: number;
  private earned = 0;
  private readonly cap: number;

  constructor(
    private readonly ratio: number,
    private readonly minRetries: number,
    private readonly now: () => number = Date.now,
  ) {
    this.floor = minRetries;
    this.floorCheckedAt = now();
    this.cap = Math.max(minRetries, 1) * 10;
  }

  recordAttempt(): void {
    this.earned = Math.min(this.cap, this.earned + this.ratio);
  }

  tryWithdraw(): boolean {
    const now = this.now();
    this.floor = Math.min(this.minRetries, this.floor + ((now - this.floorCheckedAt) / 1000) * this.minRetries);
    this.floorCheckedAt = now;
    if (this.floor >= 1) {
      this.floor -= 1;
      return true;
    }
    if (this.earned >= 1) {
      this.earned -= 1;
      return true;
    }
    return false;
  }
}

/** Why a call failed in the end: the last error, and whether the deadline was what stopped it. */
export class RetriesExhausted extends Error {
  readonly lastError: unknown;
  readonly attempts: number;
  readonly deadlineExceeded: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(lastError: unknown, attempts: number, deadlineExceeded: boolean, retryAfterMs?: number) {
    super("Upstream call failed", { cause: lastError });
    this.name = "RetriesExhausted";
    this.lastError = lastError;
    this.attempts = attempts;
    this.deadlineExceeded = deadlineExceeded;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Thrown into an attempt whose own timeout passed. */
export class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`Attempt timed out after ${ms} ms`);
    this.name = "AttemptTimeout";
  }
}

export class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`Deadline of ${ms} ms passed`);
    this.name = "DeadlineExceeded";
  }
}

export interface Classified {
  retryable: boolean;
  retryAfterMs?: number;
}

export interface RetryHooks {
  /** Before the attempt numbered `attempt` (1-based) starts. */
  onAttempt?(attempt: number): void;
  /** A failed attempt will be retried after `delayMs`. */
  onRetry?(info: { attempt: number; delayMs: number; error: unknown }): void;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or time or budget run out. Each attempt gets a
 * signal that aborts on the caller's signal, the attempt's timeout or the overall deadline.
 */
export async function withRetries<T>(
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  classify: (error: unknown) => Classified,
  options: ResolvedRetryOptions,
  budget: RetryBudget,
  callerSignal: AbortSignal | undefined,
  hooks: RetryHooks = {},
): Promise<T> {
  const deadline = Date.now() + options.deadlineMs;
  const deadlineSignal = AbortSignal.timeout(options.deadlineMs);
  budget.recordAttempt();

  for (let number = 1; ; number++) {
    const attemptController = new AbortController();
    const timer = setTimeout(() => attemptController.abort(new AttemptTimeout(options.attemptTimeoutMs)), options.attemptTimeoutMs);
    const signals = [attemptController.signal, deadlineSignal];
    if (callerSignal) signals.push(callerSignal);
    const signal = AbortSignal.any(signals);
    hooks.onAttempt?.(number);
    try {
      return await attempt(signal, number);
    } catch (thrown) {
      callerSignal?.throwIfAborted();
      const error = deadlineSignal.aborted ? new DeadlineExceeded(options.deadlineMs) : attemptController.signal.aborted ? attemptController.signal.reason : thrown;
      if (error instanceof DeadlineExceeded) throw new RetriesExhausted(error, number, true);

      const { retryable, retryAfterMs } = classify(error);
      if (!retryable || number >= options.attempts) throw new RetriesExhausted(error, number, false, retryAfterMs);
      if (retryAfterMs !== undefined && retryAfterMs > options.maxRetryAfterMs) {
        throw new RetriesExhausted(error, number, false, retryAfterMs);
      }
      const delayMs = retryAfterMs ?? backoffDelay(number, options);
      if (Date.now() + delayMs >= deadline) throw new RetriesExhausted(error, number, false, retryAfterMs);
      if (!budget.tryWithdraw()) throw new RetriesExhausted(error, number, false, retryAfterMs);

      hooks.onRetry?.({ attempt: number, delayMs, error });
      try {
        await sleep(delayMs, AbortSignal.any(callerSignal ? [deadlineSignal, callerSignal] : [deadlineSignal]));
      } catch {
        callerSignal?.throwIfAborted();
        throw new RetriesExhausted(new DeadlineExceeded(options.deadlineMs), number, true);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
