import { upstreamBaseUrl } from "./http.ts";

/**
 * How the standalone server makes a provider from its environment: each provider's `fromEnv`, which
 * knows its own variables, so that the server knows none of them. A provider whose key is not set
 * is undefined (the server then runs its emulator); a variable that is set but wrong is an
 * OptionError naming the variable, whether or not the key is set, so that a typo is found before a
 * key is added rather than after.
 */

/** The environment, as the standalone server reads it. */
export type Env = Record<string, string | undefined>;

export interface FromEnv<P> {
  (env: Env): P | undefined;
  /** The variables it reads, the one that selects the real provider (its key) first. */
  readonly variables: readonly string[];
}

/** `read`, with the variables it reads declared beside it. */
export function fromEnv<P>(variables: readonly string[], read: (env: Env) => P | undefined): FromEnv<P> {
  return Object.assign((env: Env) => read(env), { variables: Object.freeze([...variables]) });
}

/**
 * An HTTP provider's `fromEnv`: `make({ apiKey, baseUrl })` from `<PREFIX>_API_KEY` and
 * `<PREFIX>_BASE_URL`, or undefined when no key is set.
 */
export function httpFromEnv<P>(prefix: string, make: (options: { apiKey: string; baseUrl?: URL }) => P): FromEnv<P> {
  const keyVariable = `${prefix}_API_KEY`;
  const baseUrlVariable = `${prefix}_BASE_URL`;
  return fromEnv([keyVariable, baseUrlVariable], (env) => {
    const base = env[baseUrlVariable]?.trim();
    const baseUrl = base ? upstreamBaseUrl(baseUrlVariable, base) : undefined;
    const apiKey = env[keyVariable]?.trim();
    return apiKey ? make({ apiKey, baseUrl }) : undefined;
  });
}
