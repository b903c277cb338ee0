import * as v from "valibot";

/**
 * LiveAvatar's FULL-mode session config, as a profile writes it: camelCase here, snake_case on the
 * wire (`toWireBody`). Strict, so that a misspelt field is an error rather than a field the API
 * drops. `voiceAgent` (a stored voice agent) and `avatarPersona` (voice and context inline) are
 * mutually exclusive, as LiveAvatar's docs have them.
 */

const Uuid = v.pipe(v.string(), v.uuid("must be a UUID"));
const Language = v.pipe(v.string(), v.regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "must be a language code like en or pt-BR"));

/** Values for the `${var}` placeholders of a context: at most 50, keys up to 64 and values up to 1000 characters. */
const DynamicVariables = v.pipe(
  v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(64)), v.pipe(v.string(), v.maxLength(1000))),
  v.check((variables) => Object.keys(variables).length <= 50, "must have at most 50 entries"),
);

/** Provider-specific settings (ElevenLabs, Deepgram, ...), passed on with their keys in snake_case. */
const ProviderSettings = v.record(v.string(), v.union([v.string(), v.number(), v.boolean(), v.null()]));

const AvatarPersona = v.strictObject({
  voiceId: v.optional(Uuid),
  contextId: v.optional(Uuid),
  language: v.optional(Language),
  voiceSettings: v.optional(ProviderSettings),
  sttConfig: v.optional(ProviderSettings),
});

const VoiceAgent = v.strictObject({
  id: Uuid,
  language: v.optional(Language),
  dynamicVariables: v.optional(DynamicVariables),
});

const VideoSettings = v.strictObject({
  quality: v.optional(v.picklist(["very_high", "high", "medium", "low"])),
  encoding: v.optional(v.picklist(["VP8", "H264"])),
});

const Memory = v.strictObject({
  prevSessionId: v.optional(Uuid),
  sessionMemoryId: v.optional(Uuid),
});

const SessionConfigEntries = {
  avatarId: Uuid,
  mode: v.optional(v.literal("FULL", 'must be "FULL"'), "FULL"),
  isSandbox: v.optional(v.boolean()),
  videoSettings: v.optional(VideoSettings),
  /** Seconds; LiveAvatar refuses more than the account's plan allows. */
  maxSessionDuration: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  avatarPersona: v.optional(AvatarPersona),
  voiceAgent: v.optional(VoiceAgent),
  interactivityType: v.optional(v.picklist(["CONVERSATIONAL", "PUSH_TO_TALK"])),
  llmConfigurationId: v.optional(Uuid),
  dynamicVariables: v.optional(DynamicVariables),
  memory: v.optional(Memory),
};

export const sessionConfigSchema = v.pipe(
  v.strictObject(SessionConfigEntries),
  v.check((config) => config.avatarPersona === undefined || config.voiceAgent === undefined, "avatarPersona and voiceAgent are mutually exclusive; give one"),
);

export type LiveAvatarConfig = v.InferOutput<typeof sessionConfigSchema>;
export type LiveAvatarConfigInput = v.InferInput<typeof sessionConfigSchema>;

/**
 * The body of `POST /v1/sessions/token` for `config`. Field by field rather than by a generic key
 * conversion, since the keys of `dynamicVariables` are the app's own placeholder names and must
 * reach the API as they are.
 */
export function toWireBody(config: LiveAvatarConfig): Record<string, unknown> {
  const persona = config.avatarPersona;
  const agent = config.voiceAgent;
  return dropUndefined({
    avatar_id: config.avatarId,
    mode: config.mode,
    is_sandbox: config.isSandbox,
    video_settings: config.videoSettings,
    max_session_duration: config.maxSessionDuration,
    avatar_persona: persona && dropUndefined({
      voice_id: persona.voiceId,
      context_id: persona.contextId,
      language: persona.language,
      voice_settings: persona.voiceSettings && snakeKeys(persona.voiceSettings),
      stt_config: persona.sttConfig && snakeKeys(persona.sttConfig),
    }),
    voice_agent: agent && dropUndefined({ id: agent.id, language: agent.language, dynamic_variables: agent.dynamicVariables }),
    interactivity_type: config.interactivityType,
    llm_configuration_id: config.llmConfigurationId,
    dynamic_variables: config.dynamicVariables,
    memory: config.memory && dropUndefined({ prev_session_id: config.memory.prevSessionId, session_memory_id: config.memory.sessionMemoryId }),
  });
}

/** `similarityBoost` -> `similarity_boost`; keys already in snake_case stay as they are. */
function snakeKeys(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([key, value]) => [key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), value]));
}

function dropUndefined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
