import { OptionError, type Provider } from "../src/index.ts";
import type { FromEnv } from "../src/providers/env.ts";
import { anam } from "../src/providers/anam/index.ts";
import { assemblyai } from "../src/providers/assemblyai/index.ts";
import { deepgram } from "../src/providers/deepgram/index.ts";
import { elevenlabs } from "../src/providers/elevenlabs/index.ts";
import { gemini } from "../src/providers/gemini/index.ts";
import { liveavatar } from "../src/providers/liveavatar/index.ts";
import { livekit } from "../src/providers/livekit/index.ts";
import { openai } from "../src/providers/openai/index.ts";
import { xai } from "../src/providers/xai/index.ts";
import { ConfigError, type Env } from "./config.ts";

/**
 * Every provider the standalone server knows, each from its own folder: the real one when its key
 * is in the environment, its emulator otherwise. Each provider reads its own variables (its
 * `fromEnv`), so a new provider is one more line here and nothing else in the server.
 */
export interface ProviderEntry {
  /** The provider from its variables, or undefined when its key is not set; a bad variable is an OptionError naming it. */
  readonly fromEnv: FromEnv<Provider<any, any>>;
  emulated(): Provider<any, any>;
  /** A config for the demo profile offered on the emulator. */
  readonly demo: unknown;
}

export const PROVIDERS: Readonly<Record<string, ProviderEntry>> = {
  anam,
  openai,
  xai,
  gemini,
  elevenlabs,
  deepgram,
  assemblyai,
  liveavatar,
  livekit,
};

/** What the environment makes of one provider. */
export interface ServerProvider {
  provider: Provider<any, any>;
  /** True when no key was given and the provider's emulator stands in for it. */
  emulated: boolean;
}

/** The provider named `name`, real or emulated; a bad variable stops the server, named. */
export function serverProvider(name: string, env: Env): ServerProvider {
  // Own names only: `toString` is on every object, and is no provider.
  const entry = Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!entry) throw new ConfigError(`no provider named "${name}"; known: ${Object.keys(PROVIDERS).join(", ")}`);
  try {
    const real = entry.fromEnv(env);
    return real ? { provider: real, emulated: false } : { provider: entry.emulated(), emulated: true };
  } catch (error) {
    if (error instanceof OptionError) throw new ConfigError(error.detail);
    throw error;
  }
}
