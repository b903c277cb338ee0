import { canonicalJson, sha256Hex } from "./canonical.ts";
import { OptionError, TollgateError, ValidationError } from "./errors.ts";
import { parseConfig, type ConfigInputOf, type Provider, type User } from "./provider.ts";
import { PROFILE_NAME, type TokenRequest } from "./wire.ts";

/**
 * Profiles: the names a browser may ask for, each mapped by the server to a provider and a config
 * (for Anam a persona, for OpenAI a session). The browser never chooses the config itself unless
 * the app opts in. A config is checked once, where its source is known: a profile map when the
 * handler is made (a mistake stops the server), a resolver's answer on each request (a mistake is
 * the server's 500), a browser's config on each request (a mistake is the browser's 400).
 */

export interface Profile<Config = unknown> {
  readonly name: string;
  readonly provider: Provider<Config, unknown>;
  /** As the provider's schema gave it back: what `mint` is called with. */
  readonly config: Config;
  /**
   * The digest of the canonical JSON of the config and the profile's session ceiling, which stand
   * for what a token was minted for in the reuse key: two profiles with one config and one ceiling
   * share tokens, and a profile capped shorter never gets a token minted without its cap. Worked
   * out once, when the profile is made: a config can be long (a persona's system prompt), and a
   * cache hit should not hash it again.
   */
  readonly configDigest: Promise<string>;
  /** The longest session this profile allows, in seconds, when the app set one. */
  readonly maxSessionSeconds: number | undefined;
}

/** A profile as an app writes it: a provider (or its name in `providers`) and a config for it. */
export interface ProfileSpec<P extends Provider<any, any> = Provider<any, any>> {
  provider: P | string;
  config: ConfigInputOf<P>;
  /** Seconds; lowers the handler's `maxSessionSeconds` for this profile. */
  maxSessionSeconds?: number;
}

/** Profiles that depend on the user: a spec for the name, or undefined when there is no such profile. */
export type ProfileResolver<U extends User = User> = (name: string, user: U) => ProfileSpec | undefined | Promise<ProfileSpec | undefined>;

/** Persona configs by name: the one-provider short form (`provider` + `personas`). */
export type PersonaResolver<U extends User = User> = (name: string, user: U) => unknown | undefined | Promise<unknown | undefined>;

/** The profile name events and metrics show for a config the browser sent itself. */
export const CLIENT_CONFIG_PROFILE = "client-config";

/** A profile checked now: its name, its provider, and its config against the provider's schema. */
export function createProfile<P extends Provider<any, any>>(name: string, provider: P, config: ConfigInputOf<P>, options: { maxSessionSeconds?: number; option?: string } = {}): Profile {
  const option = options.option ?? `profile "${name}"`;
  if (typeof name !== "string" || !PROFILE_NAME.test(name)) {
    throw new OptionError(option, `${JSON.stringify(name)} can never be requested: a profile name is 1-64 letters, digits, '_', '.' or '-'`);
  }
  if (typeof provider?.mint !== "function" || typeof provider.name !== "string") throw new OptionError(`${option}: provider`, "must be a provider, such as anam({ apiKey })");
  const maxSessionSeconds = sessionCeiling(`${option}: maxSessionSeconds`, options.maxSessionSeconds);
  let checked: unknown;
  let configDigest: Promise<string>;
  try {
    checked = parseConfig(provider, config);
    configDigest = digestOfConfig(checked, maxSessionSeconds);
  } catch (error) {
    if (error instanceof ValidationError) throw new OptionError(`${option}: config`, error.detail);
    throw error;
  }
  return { name, provider, config: checked, configDigest, maxSessionSeconds };
}

/**
 * The digest of the canonical JSON of a checked config and its session ceiling (null: the issuer's
 * default, the same for every such profile). The JSON is written now, so that a config that has
 * none (a lone surrogate in a prompt, a BigInt) is a ValidationError here, where its source is
 * known, rather than a rejected promise that no request has awaited yet.
 */
function digestOfConfig(config: unknown, maxSessionSeconds: number | undefined): Promise<string> {
  let canonical: string;
  try {
    canonical = canonicalJson({ config, maxSessionSeconds: maxSessionSeconds ?? null });
  } catch (error) {
    throw new ValidationError(`has no JSON form: ${(error as Error).message}`);
  }
  return Promise.resolve(sha256Hex(canonical));
}

/** A session ceiling in whole seconds, or undefined for none. */
export function sessionCeiling(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 86_400) throw new OptionError(option, "must be a whole number of seconds from 1 to 86400");
  return value;
}

export interface ProfileOptions<U extends User> {
  /** The one-provider short form: with `personas`, or as the provider of profiles that name none. */
  provider?: Provider<any, any>;
  /** Persona configs by name, for `provider`. */
  personas?: Record<string, unknown> | PersonaResolver<U>;
  /** Providers by name, for profiles that name theirs by a string (as the standalone server's file does). */
  providers?: Record<string, Provider<any, any>>;
  profiles?: Record<string, ProfileSpec> | ProfileResolver<U>;
  /** Accept a whole config from the browser, checked against `provider`'s schema. Off by default. */
  allowClientConfig?: boolean;
  /** The longest session, in seconds, for every profile; a profile may lower it. */
  maxSessionSeconds?: number;
}

export interface Profiles<U extends User> {
  /** The names a browser may ask for, when they are known up front (a map rather than a function). */
  readonly names: readonly string[] | undefined;
  /** The providers the profiles use, when they are known up front. */
  readonly providers: readonly Provider<any, any>[];
  /** The profile a request asks for; a TollgateError when it names none. */
  resolve(request: TokenRequest, user: U): Profile | Promise<Profile>;
}

/** Reads the handler's profile options once, and answers which profile each request asks for. */
export function profilesFrom<U extends User>(options: ProfileOptions<U>): Profiles<U> {
  const ceiling = sessionCeiling("maxSessionSeconds", options.maxSessionSeconds);
  if (options.profiles !== undefined && options.personas !== undefined) throw new OptionError("profiles", "give profiles or personas, not both");
  if (options.profiles === undefined && options.personas === undefined && !options.allowClientConfig) {
    throw new OptionError("profiles", "is required: name the profiles a browser may ask for (or give provider and personas)");
  }
  if (options.personas !== undefined && options.provider === undefined) throw new OptionError("provider", "is required with personas");
  if (options.allowClientConfig && options.provider === undefined) throw new OptionError("allowClientConfig", "needs provider: a browser's config is checked against it");
  for (const [name, provider] of Object.entries(options.providers ?? {})) {
    if (typeof provider?.mint !== "function") throw new OptionError(`providers.${name}`, "must be a provider, such as anam({ apiKey })");
  }

  const specs: Record<string, ProfileSpec> | ProfileResolver<U> = options.profiles ?? personasAsProfiles(options.provider!, options.personas ?? {});
  const lookupProvider = (option: string, provider: Provider<any, any> | string | undefined): Provider<any, any> => {
    if (typeof provider === "string") {
      const named = options.providers?.[provider];
      if (!named) throw new OptionError(option, `no provider named "${provider}" in providers`);
      return named;
    }
    const chosen = provider ?? options.provider;
    if (!chosen) throw new OptionError(option, "is required: a provider, or a name in providers");
    return chosen;
  };
  const build = (name: string, spec: ProfileSpec, option: string): Profile => {
    if (typeof spec !== "object" || spec === null) throw new OptionError(option, "must be { provider, config }");
    const provider = lookupProvider(`${option}.provider`, spec.provider);
    const own = sessionCeiling(`${option}.maxSessionSeconds`, spec.maxSessionSeconds);
    return createProfile(name, provider, spec.config, { option, maxSessionSeconds: lowest(ceiling, own) });
  };

  const clientConfigProfile = (config: unknown): Profile => {
    const provider = options.provider!;
    try {
      const checked = parseConfig(provider, config);
      return { name: CLIENT_CONFIG_PROFILE, provider, config: checked, configDigest: digestOfConfig(checked, ceiling), maxSessionSeconds: ceiling };
    } catch (error) {
      if (error instanceof ValidationError) throw new ValidationError(`config: ${error.detail}`);
      throw error;
    }
  };
  const rejectClientConfig = () => {
    throw new TollgateError("invalid_request", { detail: "A config is not accepted here; name a profile" });
  };

  if (typeof specs === "function") {
    const resolver = specs;
    return {
      names: undefined,
      providers: options.provider ? [options.provider, ...Object.values(options.providers ?? {})] : Object.values(options.providers ?? {}),
      async resolve(request, user) {
        if (request.config !== undefined) return options.allowClientConfig ? clientConfigProfile(request.config) : rejectClientConfig();
        const spec = await resolver(request.profile, user);
        if (spec === undefined || spec === null) throw unknownProfile(request.profile);
        try {
          return build(request.profile, spec, `profile "${request.profile}"`);
        } catch (error) {
          // A config the app's resolver made is the server's mistake, not the browser's: a 500, explained in the log.
          throw new TollgateError("internal", { cause: error });
        }
      },
    };
  }

  if (typeof specs !== "object" || specs === null) throw new OptionError(options.profiles ? "profiles" : "personas", "must be a map of profiles by name, or a function");
  // With no profile at all, only a browser's own config could ever be asked for.
  if (Object.keys(specs).length === 0 && !options.allowClientConfig) throw new OptionError(options.profiles ? "profiles" : "personas", "must name at least one profile");
  const byName = new Map<string, Profile>();
  for (const [name, spec] of Object.entries(specs)) byName.set(name, build(name, spec, options.profiles ? `profiles.${name}` : `personas.${name}`));
  return {
    names: [...byName.keys()],
    providers: [...new Set([...byName.values()].map((profile) => profile.provider))],
    resolve(request) {
      if (request.config !== undefined) return options.allowClientConfig ? clientConfigProfile(request.config) : rejectClientConfig();
      const profile = byName.get(request.profile);
      if (!profile) throw unknownProfile(request.profile);
      return profile;
    },
  };
}

/** The short form's personas as profiles of its one provider. */
function personasAsProfiles<U extends User>(provider: Provider<any, any>, personas: Record<string, unknown> | PersonaResolver<U>): Record<string, ProfileSpec> | ProfileResolver<U> {
  if (typeof personas === "function") {
    return async (name, user) => {
      const config = await personas(name, user);
      return config === undefined || config === null ? undefined : { provider, config };
    };
  }
  if (typeof personas !== "object" || personas === null) throw new OptionError("personas", "must be a map of persona configs by name, or a function");
  return Object.fromEntries(Object.entries(personas).map(([name, config]) => [name, { provider, config }]));
}

function lowest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function unknownProfile(name: string) {
  // The name is the browser's text: echoed back to it, but never put on telemetry.
  return new TollgateError("unknown_profile", { detail: `No profile named "${name}"` });
}
