import * as v from "valibot";

/**
 * Anam's persona configs, as `POST /v1/auth/session-token` takes them in `personaConfig`: stateful
 * (`{ personaId }`, a persona made in Anam's lab) or ephemeral (the persona described in full).
 * Strict by default, so that a misspelt field is an error rather than a field Anam silently drops.
 */

/** Anam's former `brainType` values, still accepted as `llmId`. */
export const LEGACY_BRAIN_TYPES = ["ANAM_GPT_4O_MINI_V1", "ANAM_LLAMA_v3_3_70B_V1", "CUSTOMER_CLIENT_V1"] as const;

const Uuid = v.pipe(v.string(), v.uuid("must be a UUID"));
const LlmId = v.union([Uuid, v.picklist(LEGACY_BRAIN_TYPES)], "must be a UUID or a known brain type");

/** Anam accepts sessions of up to a day; the persona's own cap, when it sets one. */
export const MAX_SESSION_LENGTH_SECONDS = 86_400;

const StatefulEntries = { personaId: Uuid };

const EphemeralEntries = {
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  avatarId: Uuid,
  avatarModel: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
  voiceId: Uuid,
  llmId: v.optional(LlmId),
  /** @deprecated Anam's former name for `llmId`. */
  brainType: v.optional(v.picklist(LEGACY_BRAIN_TYPES)),
  systemPrompt: v.optional(v.pipe(v.string(), v.maxLength(50_000))),
  maxSessionLengthSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_SESSION_LENGTH_SECONDS))),
  languageCode: v.optional(v.pipe(v.string(), v.regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "must be a language tag like en or pt-BR"))),
  skipGreeting: v.optional(v.boolean()),
};

const SessionOptionsEntries = {
  sessionReplay: v.optional(v.strictObject({ enableSessionReplay: v.optional(v.boolean()) })),
};

export type StatefulPersonaConfig = v.InferOutput<v.ObjectSchema<typeof StatefulEntries, undefined>>;
export type EphemeralPersonaConfig = Omit<v.InferOutput<v.ObjectSchema<typeof EphemeralEntries, undefined>>, "brainType">;
export type PersonaConfig = StatefulPersonaConfig | EphemeralPersonaConfig;
/** What a profile may give: an ephemeral persona may still name its model by `brainType`. */
export type PersonaConfigInput = StatefulPersonaConfig | v.InferInput<v.ObjectSchema<typeof EphemeralEntries, undefined>>;
export type SessionOptions = v.InferOutput<v.ObjectSchema<typeof SessionOptionsEntries, undefined>>;

export interface SchemaOptions {
  /**
   * Let keys this version does not know pass through to Anam unchecked. Off by default, so a
   * misspelt field is an error rather than silently ignored; turn it on to use fields Anam added.
   */
  passthroughUnknownKeys?: boolean;
}

function object<E extends v.ObjectEntries>(entries: E, options: SchemaOptions) {
  return options.passthroughUnknownKeys ? v.looseObject(entries) : v.strictObject(entries);
}

/**
 * The persona config schema: stateful when the config names a `personaId`, ephemeral otherwise. The
 * deprecated `brainType` is folded into `llmId`, and a config naming two different models refused.
 */
export function personaConfigSchema(options: SchemaOptions = {}) {
  const stateful = object(StatefulEntries, options);
  const ephemeral = object(EphemeralEntries, options);
  return v.pipe(
    v.lazy((input) => (typeof input === "object" && input !== null && "personaId" in input ? stateful : ephemeral)),
    v.check((config) => {
      const { brainType, llmId } = config as { brainType?: string; llmId?: string };
      return brainType === undefined || llmId === undefined || brainType === llmId;
    }, "brainType and llmId name different models; use llmId alone"),
    v.transform((config): PersonaConfig => {
      if (!("brainType" in config) || config.brainType === undefined) return config as PersonaConfig;
      const { brainType, ...rest } = config as Record<string, unknown>;
      return { ...rest, llmId: brainType } as PersonaConfig;
    }),
  );
}

export function sessionOptionsSchema(options: SchemaOptions = {}) {
  return object(SessionOptionsEntries, options);
}
