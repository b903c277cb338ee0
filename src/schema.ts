import * as v from "valibot";

/**
 * Schemas for what crosses our boundaries: persona configs (as Anam accepts them) and the bodies of
 * our two routes. A config is checked here, before any upstream call, so a typo costs no round trip.
 */

/** Anam's former `brainType` values, still accepted as `llmId`. */
export const LEGACY_BRAIN_TYPES = ["ANAM_GPT_4O_MINI_V1", "ANAM_LLAMA_v3_3_70B_V1", "CUSTOMER_CLIENT_V1"] as const;

const Uuid = v.pipe(v.string(), v.uuid("must be a UUID"));
const LlmId = v.union([Uuid, v.picklist(LEGACY_BRAIN_TYPES)], "must be a UUID or a known brain type");

const SessionOptionsEntries = {
  sessionReplay: v.optional(v.strictObject({ enableSessionReplay: v.optional(v.boolean()) })),
};

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
  maxSessionLengthSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(86_400))),
  languageCode: v.optional(v.pipe(v.string(), v.regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "must be a language tag like en or pt-BR"))),
  skipGreeting: v.optional(v.boolean()),
};

export type StatefulPersonaConfig = v.InferOutput<v.ObjectSchema<typeof StatefulEntries, undefined>>;
export type EphemeralPersonaConfig = Omit<v.InferOutput<v.ObjectSchema<typeof EphemeralEntries, undefined>>, "brainType">;
export type PersonaConfig = StatefulPersonaConfig | EphemeralPersonaConfig;
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

/** Folds the deprecated `brainType` into `llmId`, refusing a config that names two different models. */
function foldBrainType(config: Record<string, unknown>): Record<string, unknown> {
  if (config.brainType === undefined) return config;
  if (config.llmId !== undefined && config.llmId !== config.brainType) {
    throw new ValidationError("brainType and llmId name different models; use llmId alone");
  }
  const { brainType, ...rest } = config;
  return { ...rest, llmId: brainType };
}

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValidationError";
  }
}

function describe(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map((issue) => {
      const path = v.getDotPath(issue);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

/**
 * Checks `input` as a persona config: stateful when it names a `personaId`, ephemeral otherwise.
 * Returns the config as it will be sent upstream, or throws a ValidationError that says what is wrong.
 */
export function parsePersonaConfig(input: unknown, options: SchemaOptions = {}): PersonaConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ValidationError("personaConfig must be an object");
  }
  const schema = "personaId" in input ? object(StatefulEntries, options) : object(EphemeralEntries, options);
  const result = v.safeParse(schema, input);
  if (!result.success) throw new ValidationError(describe(result.issues));
  return foldBrainType(result.output as Record<string, unknown>) as PersonaConfig;
}

export function parseSessionOptions(input: unknown, options: SchemaOptions = {}): SessionOptions {
  const result = v.safeParse(object(SessionOptionsEntries, options), input);
  if (!result.success) throw new ValidationError(describe(result.issues));
  return result.output;
}

const PersonaType = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(64),
  v.regex(/^[A-Za-z0-9_.-]+$/, "may hold letters, digits, '_', '.' and '-' only"),
);

/** The body of `POST /session-token`. `personaConfig` is read only when the app opted in. */
export const TokenRequestBody = v.strictObject({
  personaType: v.optional(PersonaType),
  personaConfig: v.optional(v.unknown()),
});
export type TokenRequestBody = v.InferOutput<typeof TokenRequestBody>;

/** The body of `POST /session-token/usage`, which the client sends when a session starts and ends. */
export const UsageReportBody = v.strictObject({
  sessionToken: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)),
  event: v.picklist(["started", "ended"], "must be started or ended"),
  durationMs: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(7 * 24 * 3600 * 1000))),
});
export type UsageReportBody = v.InferOutput<typeof UsageReportBody>;

/** Parses a request body with `schema`, or throws a ValidationError listing the problems by path. */
export function parseBody<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  // Object schemas take arrays for objects; a body is a JSON object or nothing.
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new ValidationError("Body must be a JSON object");
  const result = v.safeParse(schema, input);
  if (!result.success) throw new ValidationError(describe(result.issues));
  return result.output;
}
