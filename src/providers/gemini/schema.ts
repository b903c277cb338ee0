import * as v from "valibot";

/**
 * A Gemini profile's config: what `authTokens.create` of `@google/genai` takes, with the two
 * times given as lifetimes (seconds from the mint) rather than as instants, since a profile is
 * written once and minted from for months. `liveConnectConstraints.config` is the part of the
 * SDK's LiveConnectConfig that the token endpoint binds and that the SDK forwards as it is (or
 * with a conversion that `wire.ts` repeats); strict, so that a misspelt field is an error rather
 * than a field Gemini silently ignores.
 */

/** Both times must be less than 20 hours after the mint (CreateAuthTokenConfig). */
export const MAX_LIFETIME_SECONDS = 20 * 60 * 60 - 1;
/** The upstream's own defaults: messages for 30 minutes, new sessions for 60 seconds. */
export const DEFAULT_EXPIRE_SECONDS = 30 * 60;
export const DEFAULT_NEW_SESSION_EXPIRE_SECONDS = 60;

const Lifetime = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_LIFETIME_SECONDS, "must be less than 20 hours"));

/** The SDK refuses `..`, `?` and `&` in a model name (tModel); the rest is how Gemini names models. */
const ModelName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "must be a model name such as gemini-live-2.5-flash-preview"),
  v.check((model) => !model.includes(".."), "must not contain '..'"),
);

/** A field path as a FieldMask writes it: `temperature`, `generationConfig.speechConfig`. */
const FieldPath = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, "must be a field name such as temperature"));

const OpenObject = v.looseObject({});
const Empty = v.strictObject({});

const TextPart = v.strictObject({ text: v.string() });
const Content = v.strictObject({ parts: v.pipe(v.array(TextPart), v.minLength(1)), role: v.optional(v.string()) });

/**
 * A function's schema as JSON Schema (`parametersJsonSchema`) goes to Gemini as it is; the SDK
 * rewrites an OpenAPI-style `parameters`, which is refused here rather than sent differently.
 */
const FunctionDeclaration = v.strictObject({
  name: v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/, "must be a function name of up to 64 letters, digits, _ . : -")),
  description: v.optional(v.string()),
  parametersJsonSchema: v.optional(v.unknown()),
  responseJsonSchema: v.optional(v.unknown()),
  behavior: v.optional(v.picklist(["BLOCKING", "NON_BLOCKING", "UNSPECIFIED"])),
});

const Tool = v.strictObject({
  codeExecution: v.optional(Empty),
  functionDeclarations: v.optional(v.array(FunctionDeclaration)),
  googleSearch: v.optional(Empty),
  urlContext: v.optional(Empty),
});

const SpeechConfig = v.pipe(
  OpenObject,
  v.check((speech) => !("multiSpeakerVoiceConfig" in speech), "multiSpeakerVoiceConfig is not supported in the Live API"),
);

/** The fields the SDK moves into `generationConfig`, in the order it writes them. */
export const GENERATION_FIELDS = [
  "responseModalities",
  "temperature",
  "topP",
  "topK",
  "maxOutputTokens",
  "mediaResolution",
  "seed",
  "speechConfig",
  "thinkingConfig",
  "enableAffectiveDialog",
] as const;

const LiveConnectConfigEntries = {
  generationConfig: v.optional(OpenObject),
  responseModalities: v.optional(v.array(v.picklist(["TEXT", "IMAGE", "AUDIO", "VIDEO", "MODALITY_UNSPECIFIED"]))),
  temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  topP: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  topK: v.optional(v.pipe(v.number(), v.minValue(1))),
  maxOutputTokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  mediaResolution: v.optional(v.picklist(["MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH"])),
  seed: v.optional(v.pipe(v.number(), v.integer())),
  speechConfig: v.optional(SpeechConfig),
  thinkingConfig: v.optional(OpenObject),
  enableAffectiveDialog: v.optional(v.boolean()),
  systemInstruction: v.optional(v.union([v.pipe(v.string(), v.minLength(1)), Content], "must be a text or { parts: [{ text }] }")),
  tools: v.optional(v.array(Tool)),
  sessionResumption: v.optional(v.strictObject({ handle: v.optional(v.string()) })),
  inputAudioTranscription: v.optional(OpenObject),
  outputAudioTranscription: v.optional(OpenObject),
  realtimeInputConfig: v.optional(OpenObject),
  contextWindowCompression: v.optional(OpenObject),
  proactivity: v.optional(OpenObject),
  safetySettings: v.optional(v.array(v.strictObject({ category: v.string(), threshold: v.string() }))),
};

/** The SDK throws when a field is given both on its own and inside `generationConfig`; so does the schema. */
const LiveConnectConfig = v.pipe(
  v.strictObject(LiveConnectConfigEntries),
  v.check(
    (config) => GENERATION_FIELDS.every((field) => config[field] === undefined || config.generationConfig?.[field] === undefined),
    "a field is given both on its own and in generationConfig",
  ),
);

const LiveConnectConstraints = v.strictObject({ model: ModelName, config: v.optional(LiveConnectConfig) });

const Uses = v.pipe(v.number(), v.integer(), v.minValue(0, "must be 0 (unlimited) or more"));

const GeminiConfigEntries = {
  uses: v.optional(Uses, 1),
  expireSeconds: v.optional(Lifetime, DEFAULT_EXPIRE_SECONDS),
  newSessionExpireSeconds: v.optional(Lifetime, DEFAULT_NEW_SESSION_EXPIRE_SECONDS),
  liveConnectConstraints: v.optional(LiveConnectConstraints),
  lockAdditionalFields: v.optional(v.array(FieldPath)),
};

export const geminiConfigSchema = v.pipe(
  v.strictObject(GeminiConfigEntries),
  // A session may not start once its messages would be refused: such a window promises nothing.
  v.forward(
    v.check((config) => config.newSessionExpireSeconds <= config.expireSeconds, "must not be longer than expireSeconds"),
    ["newSessionExpireSeconds"],
  ),
);

export type GeminiConfig = v.InferOutput<typeof geminiConfigSchema>;
export type GeminiConfigInput = v.InferInput<typeof geminiConfigSchema>;
export type LiveConnectConstraints = v.InferOutput<typeof LiveConnectConstraints>;
export type LiveConnectConfig = v.InferOutput<typeof LiveConnectConfig>;
