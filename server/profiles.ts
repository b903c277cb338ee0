import { readFile } from "node:fs/promises";
import { ConfigError } from "./config.ts";

/** Anam's documented demo persona, so that a fresh server has something to mint. */
export const DEMO_PERSONAS: Record<string, unknown> = {
  support: {
    name: "Cara",
    avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
    voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
    llmId: "ANAM_GPT_4O_MINI_V1",
    systemPrompt: "You are Cara, a helpful customer service representative. Keep answers short.",
    maxSessionLengthSeconds: 600,
  },
};

/** Reads the personaType -> config map from `file`; each config is checked later by the handler. */
export async function loadPersonas(file: string | undefined): Promise<Record<string, unknown>> {
  if (!file) return DEMO_PERSONAS;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ConfigError(`TOLLGATE_PERSONAS: cannot read ${file}`);
  }
  let personas: unknown;
  try {
    personas = JSON.parse(text);
  } catch {
    throw new ConfigError(`TOLLGATE_PERSONAS: ${file} is not valid JSON`);
  }
  if (typeof personas !== "object" || personas === null || Array.isArray(personas) || Object.keys(personas).length === 0) {
    throw new ConfigError(`TOLLGATE_PERSONAS: ${file} must hold an object mapping each personaType to a persona config`);
  }
  return personas as Record<string, unknown>;
}
