import { readFile } from "node:fs/promises";
import type { Provider } from "../src/index.ts";
import { ConfigError, type Env } from "./config.ts";
import { PROVIDERS, serverProvider, type ServerProvider } from "./providers.ts";

/**
 * The profiles the server offers: from TOLLGATE_PROFILES (`{ "<profile>": { "provider": "<id>",
 * "config": { ... } } }`), from TOLLGATE_PERSONAS (Anam persona configs by name), or else a demo
 * profile per provider, named after it. Each config is checked by the handler when it is made.
 */
/** A profile the server offers: always a provider itself, never its name. */
export interface ServerProfileSpec {
  provider: Provider<any, any>;
  config: unknown;
  maxSessionSeconds?: number;
}

export interface ServerProfiles {
  profiles: Record<string, ServerProfileSpec>;
  /** The providers the profiles use, by name. */
  providers: Record<string, ServerProvider>;
}

export async function loadProfiles(options: { profilesFile?: string; personasFile?: string; env: Env }): Promise<ServerProfiles> {
  if (options.profilesFile && options.personasFile) throw new ConfigError("set TOLLGATE_PROFILES or TOLLGATE_PERSONAS, not both");
  const providers: Record<string, ServerProvider> = {};
  const use = (name: string) => (providers[name] ??= serverProvider(name, options.env)).provider;

  if (options.personasFile) {
    const personas = await readJsonObject("TOLLGATE_PERSONAS", options.personasFile, "each personaType to a persona config");
    return { profiles: Object.fromEntries(Object.entries(personas).map(([name, config]) => [name, { provider: use("anam"), config }])), providers };
  }
  if (options.profilesFile) {
    const file = await readJsonObject("TOLLGATE_PROFILES", options.profilesFile, 'each profile to { "provider", "config" }');
    const profiles: Record<string, ServerProfileSpec> = {};
    for (const [name, spec] of Object.entries(file)) {
      const { provider, config, maxSessionSeconds } = (spec ?? {}) as { provider?: unknown; config?: unknown; maxSessionSeconds?: number };
      if (typeof provider !== "string" || !Object.hasOwn(PROVIDERS, provider)) {
        throw new ConfigError(`TOLLGATE_PROFILES: profile "${name}" needs "provider", one of ${Object.keys(PROVIDERS).join(", ")}`);
      }
      profiles[name] = { provider: use(provider), config: config ?? {}, maxSessionSeconds };
    }
    return { profiles, providers };
  }
  const profiles: Record<string, ServerProfileSpec> = {};
  for (const [name, entry] of Object.entries(PROVIDERS)) profiles[name] = { provider: use(name), config: entry.demo };
  return { profiles, providers };
}

async function readJsonObject(variable: string, file: string, shape: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ConfigError(`${variable}: cannot read ${file}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${variable}: ${file} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.keys(value).length === 0) {
    throw new ConfigError(`${variable}: ${file} must hold an object mapping ${shape}`);
  }
  return value as Record<string, unknown>;
}
