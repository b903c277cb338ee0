import { GENERATION_FIELDS, type GeminiConfig, type LiveConnectConfig, type LiveConnectConstraints } from "./schema.ts";

/**
 * The body of `POST /v1alpha/auth_tokens` as `authTokens.create` of `@google/genai` writes it
 * (SOURCES.md): flat camelCase `{ expireTime, newSessionExpireTime, uses, bidiGenerateContentSetup,
 * fieldMask }`, the constraints unwrapped into the setup the Live API takes, and the field mask
 * derived from the setup and `lockAdditionalFields` by the SDK's own rules, so that a token locks
 * exactly what the same config locks through the SDK.
 */

export interface TokenWindow {
  /** Epoch ms after which the session's messages are refused. */
  expireAt: number;
  /** Epoch ms after which no new session may start with the token. */
  newSessionExpireAt: number;
}

export interface AuthTokenBody {
  expireTime: string;
  newSessionExpireTime: string;
  uses: number;
  bidiGenerateContentSetup?: Record<string, unknown>;
  fieldMask?: string;
}

export function authTokenBody(config: GeminiConfig, window: TokenWindow): AuthTokenBody {
  const body: AuthTokenBody = {
    expireTime: new Date(window.expireAt).toISOString(),
    newSessionExpireTime: new Date(window.newSessionExpireAt).toISOString(),
    uses: config.uses,
  };
  const setup = config.liveConnectConstraints ? liveSetup(config.liveConnectConstraints) : undefined;
  if (setup) body.bidiGenerateContentSetup = setup;
  const mask = fieldMask(setup, config.lockAdditionalFields);
  if (mask !== undefined) body.fieldMask = mask;
  return body;
}

/** `models/<name>`, as the SDK's tModel writes a Gemini Developer API model. */
export function modelResource(model: string): string {
  return model.startsWith("models/") || model.startsWith("tunedModels/") ? model : `models/${model}`;
}

/** The BidiGenerateContentSetup for the constraints, its fields in the order the SDK writes them. */
export function liveSetup(constraints: LiveConnectConstraints): Record<string, unknown> {
  const setup: Record<string, unknown> = { model: modelResource(constraints.model) };
  const config: LiveConnectConfig = constraints.config ?? {};

  const generation = generationConfig(config);
  if (generation) setup.generationConfig = generation;
  if (config.systemInstruction !== undefined) setup.systemInstruction = content(config.systemInstruction);
  if (config.tools !== undefined) setup.tools = config.tools.map(tool);
  if (config.sessionResumption !== undefined) {
    setup.sessionResumption = config.sessionResumption.handle === undefined ? {} : { handle: config.sessionResumption.handle };
  }
  for (const field of ["inputAudioTranscription", "outputAudioTranscription", "realtimeInputConfig", "contextWindowCompression", "proactivity"] as const) {
    if (config[field] !== undefined) setup[field] = config[field];
  }
  if (config.safetySettings !== undefined) setup.safetySettings = config.safetySettings.map(({ category, threshold }) => ({ category, threshold }));
  return setup;
}

/** `generationConfig` as given, then each generation field given on its own, as the SDK merges them. */
function generationConfig(config: LiveConnectConfig): Record<string, unknown> | undefined {
  const own = GENERATION_FIELDS.filter((field) => config[field] !== undefined);
  if (config.generationConfig === undefined && own.length === 0) return undefined;
  const merged: Record<string, unknown> = { ...config.generationConfig };
  for (const field of own) merged[field] = config[field];
  return merged;
}

/** A text becomes one user turn, `{ parts: [{ text }], role: "user" }` (tContent, then contentToMldev). */
function content(instruction: NonNullable<LiveConnectConfig["systemInstruction"]>): Record<string, unknown> {
  if (typeof instruction === "string") return { parts: [{ text: instruction }], role: "user" };
  const written: Record<string, unknown> = { parts: instruction.parts.map(({ text }) => ({ text })) };
  if (instruction.role !== undefined) written.role = instruction.role;
  return written;
}

/** A tool with its fields in toolToMldev's order. */
function tool(given: NonNullable<LiveConnectConfig["tools"]>[number]): Record<string, unknown> {
  const written: Record<string, unknown> = {};
  if (given.codeExecution !== undefined) written.codeExecution = given.codeExecution;
  if (given.functionDeclarations !== undefined) written.functionDeclarations = given.functionDeclarations;
  if (given.googleSearch !== undefined) written.googleSearch = {};
  if (given.urlContext !== undefined) written.urlContext = given.urlContext;
  return written;
}

/** The generation fields the SDK names under `generationConfig.` when they are locked additionally. */
const LOCKABLE_GENERATION_FIELDS = new Set(["temperature", "topK", "topP", "maxOutputTokens", "responseModalities", "seed", "speechConfig"]);

/**
 * The field mask, by the SDK's four cases (convertBidiSetupToTokenSetup):
 * - constraints and `lockAdditionalFields: []`: the setup's own fields are locked;
 * - constraints and more fields to lock: the setup's fields and those;
 * - constraints and no `lockAdditionalFields`: no mask, which locks every field;
 * - no constraints: the fields to lock as given, if any.
 */
export function fieldMask(setup: Record<string, unknown> | undefined, lock: readonly string[] | undefined): string | undefined {
  if (!setup) return lock && lock.length > 0 ? lock.join(",") : undefined;
  if (lock === undefined) return undefined;
  const own = setupFieldPaths(setup);
  if (lock.length === 0) return own || undefined;
  const parts = own ? [own] : [];
  parts.push(...lock.map((field) => (LOCKABLE_GENERATION_FIELDS.has(field) ? `generationConfig.${field}` : field)));
  return parts.join(",");
}

/**
 * The setup's fields two levels deep, as the SDK's getFieldMasks lists them: `model`,
 * `generationConfig.temperature`, ... (an array's entries are listed by index, as the SDK does).
 */
export function setupFieldPaths(setup: Record<string, unknown>): string {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(setup)) {
    if (typeof value === "object" && value !== null && Object.keys(value).length > 0) {
      paths.push(...Object.keys(value).map((inner) => `${key}.${inner}`));
    } else {
      paths.push(key);
    }
  }
  return paths.join(",");
}
