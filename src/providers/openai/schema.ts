import * as v from "valibot";

/**
 * A profile's config for OpenAI: the session the client secret is bound to, and how long the secret
 * may start sessions. The top level is strict, so a misspelt option is an error. The session is
 * checked where a mistake is cheap to catch (its `type`, a realtime session's `model`, the types of
 * the common fields) and otherwise passed through as it is: OpenAI adds session fields often, and
 * it refuses a parameter it does not know with a 400 of its own.
 */

/** `expires_after.seconds`: "between 10 and 7200 (2 hours)", 600 when not given (openai-node types). */
export const MIN_EXPIRES_AFTER_SECONDS = 10;
export const MAX_EXPIRES_AFTER_SECONDS = 7200;
export const DEFAULT_EXPIRES_AFTER_SECONDS = 600;

const ExpiresAfterSeconds = v.pipe(
  v.number(),
  v.integer("must be a whole number of seconds"),
  v.minValue(MIN_EXPIRES_AFTER_SECONDS, `must be at least ${MIN_EXPIRES_AFTER_SECONDS}`),
  v.maxValue(MAX_EXPIRES_AFTER_SECONDS, `must be at most ${MAX_EXPIRES_AFTER_SECONDS}`),
);

const JsonObject = v.record(v.string(), v.unknown(), "must be an object");

const RealtimeSession = v.looseObject({
  type: v.literal("realtime"),
  model: v.pipe(v.string("must name a realtime model"), v.minLength(1, "must name a realtime model")),
  instructions: v.optional(v.string()),
  audio: v.optional(JsonObject),
  output_modalities: v.optional(v.array(v.picklist(["text", "audio"]))),
  max_output_tokens: v.optional(v.union([v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096)), v.literal("inf")], "must be 1 to 4096, or \"inf\"")),
  tools: v.optional(v.array(JsonObject)),
  include: v.optional(v.array(v.string())),
});

const TranscriptionSession = v.looseObject({
  type: v.literal("transcription"),
  audio: v.optional(JsonObject),
  include: v.optional(v.array(v.string())),
});

const Session = v.variant("type", [RealtimeSession, TranscriptionSession], 'must be a "realtime" or "transcription" session');

const ConfigEntries = {
  session: Session,
  expiresAfterSeconds: v.optional(ExpiresAfterSeconds),
};

export const openAIConfigSchema = v.strictObject(ConfigEntries);

export type OpenAIRealtimeSession = v.InferOutput<typeof RealtimeSession>;
export type OpenAITranscriptionSession = v.InferOutput<typeof TranscriptionSession>;
export type OpenAISession = OpenAIRealtimeSession | OpenAITranscriptionSession;
export type OpenAIConfig = v.InferOutput<typeof openAIConfigSchema>;
export type OpenAIConfigInput = v.InferInput<typeof openAIConfigSchema>;
