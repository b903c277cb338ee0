import * as v from "valibot";

/**
 * A profile's config for xAI: how long the client secret may be used. xAI's endpoint takes nothing
 * else from tollgate (no `session`, no `anchor`), so the config is strict and small.
 */

/** `expires_after.seconds`: at most 3600, 600 when not given (xAI's API reference); the floor is not stated. */
export const MIN_EXPIRES_AFTER_SECONDS = 1;
export const MAX_EXPIRES_AFTER_SECONDS = 3600;
export const DEFAULT_EXPIRES_AFTER_SECONDS = 600;

export const xaiConfigSchema = v.strictObject({
  expiresAfterSeconds: v.optional(
    v.pipe(
      v.number(),
      v.integer("must be a whole number of seconds"),
      v.minValue(MIN_EXPIRES_AFTER_SECONDS, `must be at least ${MIN_EXPIRES_AFTER_SECONDS}`),
      v.maxValue(MAX_EXPIRES_AFTER_SECONDS, `must be at most ${MAX_EXPIRES_AFTER_SECONDS}`),
    ),
  ),
});

export type XaiConfig = v.InferOutput<typeof xaiConfigSchema>;
export type XaiConfigInput = v.InferInput<typeof xaiConfigSchema>;
