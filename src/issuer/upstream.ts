import type { Tracer } from "@opentelemetry/api";
import { isWellFormed } from "../canonical.ts";
import { InvalidUpstreamResponse, TollgateError } from "../errors.ts";
import type { EventEmitter, LifecycleEvent } from "../lifecycle.ts";
import type { MintContext, MintedToken, Provider, Upstream } from "../provider.ts";
import { RetriesExhausted, RetryBudget, withRetries } from "../retry.ts";
import { tracedMint } from "../telemetry/attempt-span.ts";
import { MAX_TOKEN_CHARS, reportedTokenBytes } from "../wire.ts";

/**
 * One mint for the issuer, whatever the provider: an HTTP provider's attempts are retried within
 * its policy and budget, each in a client span; a local signer is called once, with nothing to
 * retry or trace. What comes back is checked before anyone is handed it, and a failure leaves as
 * the TollgateError the client is answered with.
 */
export type Minter = (config: unknown, context: MintContext, events: Partial<LifecycleEvent>) => Promise<MintedToken>;

/** The fields every answer has, which a provider's `extra` may not replace. */
const ANSWER_FIELDS = ["token", "expiresAt", "provider", "profile"] as const;

/** Wait suggested to clients when an upstream failed without saying how long to wait. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * `maxTokenBytes`: the longest token whose reports the usage route takes back, in UTF-8 bytes
 * (`maxTokenBytes` of src/wire.ts, from the route's body cap).
 */
export function minterFor(provider: Provider<unknown, unknown>, tracer: Tracer, emit: EventEmitter, maxTokenBytes: number): Minter {
  const upstream = provider.upstream;
  const checkedToken = (token: MintedToken) => checked(provider, token, maxTokenBytes);
  if (!upstream) {
    return async (config, context) => {
      try {
        return checkedToken(await provider.mint(config, context));
      } catch (error) {
        throw error instanceof TollgateError ? error : new TollgateError("internal", { cause: error });
      }
    };
  }

  const budget = new RetryBudget(upstream.retry.budgetRatio, upstream.retry.budgetMinRetries);
  const attempt = tracedMint(provider as Provider<unknown, unknown> & { upstream: Upstream }, tracer);
  return async (config, context, events) => {
    let minted: MintedToken;
    try {
      minted = await withRetries(
        (signal, number) => attempt(config, { ...context, signal }, number).then(checkedToken),
        (error) => upstream.classify(error),
        upstream.retry,
        budget,
        context.signal,
        {
          onAttempt: (number) => emit("minting", events, { attempt: number }),
          onRetry: ({ attempt: number, delayMs, error }) => emit("retried", events, { attempt: number, delayMs, errorType: upstream.classify(error).errorType }),
        },
      );
    } catch (error) {
      throw failureAnswer(error, upstream);
    }
    return minted;
  };
}

/**
 * A token nobody could use is an upstream error, not an answer: one that has already expired, or
 * one longer than the usage route takes back (its reports could never be made).
 */
function checked(provider: Provider<unknown, unknown>, minted: MintedToken, maxTokenBytes: number): MintedToken {
  if (typeof minted?.token !== "string" || minted.token.length === 0) throw new InvalidUpstreamResponse(`${provider.name} gave no token`);
  if (minted.token.length > MAX_TOKEN_CHARS) throw new InvalidUpstreamResponse(`${provider.name} gave a token of ${minted.token.length} characters; at most ${MAX_TOKEN_CHARS} are accepted`);
  // The usage route could never take it back: its record is found by a digest of its UTF-8 form.
  if (!isWellFormed(minted.token)) throw new InvalidUpstreamResponse(`${provider.name} gave a token that is not well-formed Unicode`);
  // Nor a report too large for its body cap, which counts bytes.
  const bytes = reportedTokenBytes(minted.token);
  if (bytes > maxTokenBytes) throw new InvalidUpstreamResponse(`${provider.name} gave a token of ${bytes} bytes; the usage route takes back at most ${maxTokenBytes}`);
  if (!Number.isFinite(minted.expiresAt) || minted.expiresAt <= Date.now()) throw new InvalidUpstreamResponse(`${provider.name} gave a token that has already expired`);
  for (const field of ANSWER_FIELDS) {
    if (minted.extra && field in minted.extra) throw new InvalidUpstreamResponse(`${provider.name} put "${field}" among its extra fields, which the answer already has`);
  }
  return minted;
}

/** What the retry loop gave up with, as the error the client is answered with. */
function failureAnswer(error: unknown, upstream: Upstream): TollgateError {
  if (!(error instanceof RetriesExhausted)) return error instanceof TollgateError ? error : new TollgateError("internal", { cause: error });
  if (error.deadlineExceeded) return new TollgateError("upstream_timeout", { cause: error.lastError });
  const { retryable, errorType } = upstream.classify(error.lastError);
  if (errorType === "timeout") return new TollgateError("upstream_timeout", { cause: error.lastError });
  if (errorType === "invalid_response") return new TollgateError("upstream_invalid_response", { cause: error.lastError });
  if (retryable) {
    const retryAfter = error.retryAfterMs !== undefined ? error.retryAfterMs / 1000 : DEFAULT_RETRY_AFTER_SECONDS;
    return new TollgateError("upstream_unavailable", { retryAfter, cause: error.lastError });
  }
  return new TollgateError("upstream_rejected", { cause: error.lastError });
}
