import { OptionError, upstreamBaseUrl, type Provider } from "../src/index.ts";
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
 * is in the environment, its emulator otherwise. A new provider is one more line here.
 */
interface ProviderEntry {
  fromEnv(env: Env): Provider<any, any> | undefined;
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

/** The environment variables that carry a provider's base URL; LiveKit's is its server's. */
function baseUrlVariable(name: string): string {
  return name === "livekit" ? "LIVEKIT_URL" : `${name.toUpperCase()}_BASE_URL`;
}

/** The provider named `name`, real or emulated; a bad variable stops the server, named. */
export function serverProvider(name: string, env: Env): ServerProvider {
  // Own names only: `toString` is on every object, and is no provider.
  const entry = Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!entry) throw new ConfigError(`no provider named "${name}"; known: ${Object.keys(PROVIDERS).join(", ")}`);
  const variable = baseUrlVariable(name);
  const baseUrl = env[variable]?.trim();
  try {
    // Checked here as well, so that the message names the variable rather than the option.
    if (baseUrl && name !== "livekit") upstreamBaseUrl(variable, baseUrl);
    const real = entry.fromEnv(env);
    return real ? { provider: real, emulated: false } : { provider: entry.emulated(), emulated: true };
  } catch (error) {
    if (error instanceof OptionError) throw new ConfigError(error.detail.replace(/^\w+\(\): baseUrl/, variable));
    throw error;
  }
}
