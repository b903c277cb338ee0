import * as v from "valibot";

/**
 * An AssemblyAI profile's config: how long the token may wait to open its stream, and the longest
 * stream it may open. Strict, so that a misspelt field is an error rather than silently the default.
 */

/** `expires_in_seconds`: the window to open the stream, 1 to 600 seconds. */
export const MIN_EXPIRES_IN_SECONDS = 1;
export const MAX_EXPIRES_IN_SECONDS = 600;
/** What a profile gets when it names no window: the value AssemblyAI's own examples use. */
export const DEFAULT_EXPIRES_IN_SECONDS = 60;
/** `max_session_duration_seconds`: 60 to 10800 seconds, 10800 when the request names none. */
export const MIN_SESSION_DURATION_SECONDS = 60;
export const MAX_SESSION_DURATION_SECONDS = 10_800;

function wholeSeconds(min: number, max: number) {
  return v.pipe(
    v.number("must be a number of seconds"),
    v.integer("must be a whole number of seconds"),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
}

export const assemblyAIConfigSchema = v.strictObject({
  expiresInSeconds: v.optional(wholeSeconds(MIN_EXPIRES_IN_SECONDS, MAX_EXPIRES_IN_SECONDS)),
  maxSessionDurationSeconds: v.optional(wholeSeconds(MIN_SESSION_DURATION_SECONDS, MAX_SESSION_DURATION_SECONDS)),
});

export type AssemblyAIConfig = v.InferOutput<typeof assemblyAIConfigSchema>;
export type AssemblyAIConfigInput = v.InferInput<typeof assemblyAIConfigSchema>;
