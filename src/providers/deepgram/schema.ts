import * as v from "valibot";

/**
 * A Deepgram profile's config: how long the granted JWT lives. Strict, so that a misspelt field is an
 * error rather than a grant of the default 30 seconds.
 */

/** Deepgram grants live 1 to 3600 seconds, 30 when the request names none. */
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 3600;
export const DEFAULT_TTL_SECONDS = 30;

export const deepgramConfigSchema = v.strictObject({
  ttlSeconds: v.optional(
    v.pipe(
      v.number("must be a number of seconds"),
      v.integer("must be a whole number of seconds"),
      v.minValue(MIN_TTL_SECONDS, `must be at least ${MIN_TTL_SECONDS}`),
      v.maxValue(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS}`),
    ),
  ),
});

export type DeepgramConfig = v.InferOutput<typeof deepgramConfigSchema>;
export type DeepgramConfigInput = v.InferInput<typeof deepgramConfigSchema>;
