import type { StandardSchemaV1 } from "@standard-schema/spec";
import { unrememberedSha256Hex } from "./canonical.ts";
import { OptionError, ValidationError } from "./errors.ts";
import type { ResolvedRetryOptions } from "./retry.ts";

/**
 * What tollgate needs from a token provider: a name, a schema for its configs, what its tokens may
 * be used for, and `mint`. An HTTP provider also describes its upstream (`upstream`), and the issuer
 * retries, traces and classifies its calls the same way for every provider; a local signer
 * (LiveKit) has no upstream, so no retries and no client span. `src/providers/<name>/` holds one
 * each; `src/providers/http.ts` is what the HTTP ones share.
 */

/**
 * - `single-use`: the token starts one session, so it is handed out again only until that session
 *   is reported started (Anam, AssemblyAI, LiveAvatar, Gemini with a number of `uses`).
 * - `reusable`: it may start sessions until it expires (Deepgram grants, LiveKit JWTs, OpenAI
 *   client secrets), so a started report does not take it out of the reuse cache.
 */
export type TokenUse = "single-use" | "reusable";

/** Whoever `authenticate` recognised. Only `id` is read by tollgate. */
export interface User {
  id: string;
}

/** The longest session where neither the app nor the profile sets one: an hour. */
export const DEFAULT_MAX_SESSION_SECONDS = 3600;

export interface MintContext {
  /** Aborts the attempt: the caller went away, the attempt timed out, or the deadline passed. */
  signal: AbortSignal;
  /** Who the token is for: LiveKit signs it as the identity; most providers ignore it. */
  user: User;
  /**
   * The longest session the app allows, in seconds, when it set one. A provider that can enforce a
   * session length upstream sends it there, never raising what the config itself asks for.
   */
  maxSessionSeconds?: number;
}

/** Values that go into the token's answer beside `token` and `expiresAt` (LiveKit's `serverUrl`). */
export type TokenExtra = Readonly<Record<string, string | number | boolean>>;

export interface MintedToken {
  token: string;
  /** Epoch milliseconds: when the token can no longer start a session. */
  expiresAt: number;
  /** What the provider's client needs besides the token, put into the answer as it is. */
  extra?: TokenExtra;
  /** The upstream's HTTP status, for the attempt's span. */
  status?: number;
}

export interface FailureClass {
  /** Worth another attempt (408, 429, 5xx, network errors, timeouts). */
  retryable: boolean;
  /** How long the upstream asked us to wait, in milliseconds, from its `Retry-After`. */
  retryAfterMs?: number;
  /** A low-cardinality name for the failure: an HTTP status, or a name such as `network`. */
  errorType: string;
}

/** Where an HTTP provider's mint goes, and how its failures are told apart. */
export interface Upstream {
  /** Origin and path only (never credentials or a query): it is put on spans as it is. */
  readonly endpoint: URL;
  readonly method: "GET" | "POST";
  readonly retry: ResolvedRetryOptions;
  /** Classifies what `mint` threw. */
  classify(error: unknown): FailureClass;
}

export interface Provider<Config = unknown, Input = Config> {
  /** A short, stable name (`anam`, `openai`): part of cache keys, answers and telemetry. */
  readonly name: string;
  /** Checks a config and gives what `mint` is called with. Any Standard Schema; valibot here. */
  readonly config: StandardSchemaV1<Input, Config>;
  /** What a token may start; a config may decide it (Gemini's `uses`). */
  readonly tokenUse: TokenUse | ((config: Config) => TokenUse);
  /**
   * How long before its expiry a cached token stops being handed out, from its lifetime. Default
   * `defaultReuseMargin`: the smaller of 10 minutes and a sixth of the lifetime.
   */
  reuseMarginMs?(lifetimeMs: number): number;
  /**
   * Whether the provider itself ends a session at the app's ceiling for this config (`mint` sends
   * `maxSessionSeconds` where this says so), and the shortest ceiling it takes, in seconds (a
   * shorter one is sent as that). `false`, or no method, when it has no field for the ceiling: then
   * only the leases use it, and a session lasts as long as the provider lets it.
   */
  enforcesSessionCeiling?(config: Config): { minSeconds: number } | false;
  /** One attempt at a token. Throws what `upstream.classify` understands. */
  mint(config: Config, context: MintContext): Promise<MintedToken>;
  /** Present for a provider that calls an upstream over HTTP; absent for a local signer. */
  readonly upstream?: Upstream;
  /**
   * What tells this instance apart from another of its name (another account, another server), so
   * that they never share a cached token: never a secret, a key's digest at most (see
   * `providerIdentity`). A promise where it takes a digest. Default: the upstream's endpoint.
   */
  readonly identity?: string | Promise<string>;
  /** Removes secrets (the API key) from text headed for a log. */
  redact(text: string): string;
}

/** A provider's config type, for typing profiles by their provider. */
export type ConfigOf<P> = P extends { readonly config: StandardSchemaV1<any, infer Config> } ? Config : never;
/** What a profile may give as a provider's config, before its schema checks it. */
export type ConfigInputOf<P> = P extends { readonly config: StandardSchemaV1<infer Input, any> } ? Input : never;

const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const TEN_MINUTES_MS = 10 * 60 * 1000;

/** The smaller of 10 minutes and a sixth of the token's lifetime (10 min of an hour, 5 s of 30 s). */
export function defaultReuseMargin(lifetimeMs: number): number {
  return Math.min(TEN_MINUTES_MS, Math.max(0, lifetimeMs) / 6);
}

/**
 * Checks a provider definition and gives it back frozen, so that a provider written wrong fails
 * when it is made, with the field named.
 */
export function defineProvider<Config, Input>(definition: Provider<Config, Input>): Provider<Config, Input> {
  const where = `provider ${JSON.stringify(definition?.name)}`;
  if (typeof definition?.name !== "string" || !PROVIDER_NAME.test(definition.name)) {
    throw new OptionError("provider.name", "must be 1-32 lowercase letters, digits or '-', starting with a letter");
  }
  if (typeof definition.config?.["~standard"]?.validate !== "function") throw new OptionError(`${where}: config`, "must be a Standard Schema (valibot, zod, arktype...)");
  if (typeof definition.tokenUse !== "function" && definition.tokenUse !== "single-use" && definition.tokenUse !== "reusable") {
    throw new OptionError(`${where}: tokenUse`, 'must be "single-use", "reusable" or a function of the config');
  }
  if (definition.enforcesSessionCeiling !== undefined && typeof definition.enforcesSessionCeiling !== "function") {
    throw new OptionError(`${where}: enforcesSessionCeiling`, "must be a function of the config");
  }
  if (typeof definition.mint !== "function") throw new OptionError(`${where}: mint`, "must be a function");
  if (typeof definition.redact !== "function") throw new OptionError(`${where}: redact`, "must be a function");
  if (definition.identity !== undefined && typeof definition.identity !== "string" && !(definition.identity instanceof Promise)) {
    throw new OptionError(`${where}: identity`, "must be a string (or a promise of one) that holds no secret");
  }
  return Object.freeze({ ...definition });
}

/**
 * A provider instance's identity: where its tokens come from (a base URL, a server URL) and the
 * SHA-256 of the key that pays for them, so that two accounts or servers are told apart while the
 * identity holds no secret. Worked out once, when the provider is made.
 */
export async function providerIdentity(url: string, key: string): Promise<string> {
  return `${url} ${await unrememberedSha256Hex(key)}`;
}

/** The token use of `config` under `provider`. */
export function tokenUseOf<Config>(provider: Provider<Config, unknown>, config: Config): TokenUse {
  return typeof provider.tokenUse === "function" ? provider.tokenUse(config) : provider.tokenUse;
}

/**
 * Checks `input` against the provider's schema and gives the config as it will be sent, or throws a
 * ValidationError listing each problem by its path. Schemas must answer at once: a config is checked
 * when the handler is made, and an error must stop that.
 */
export function parseConfig<Config>(provider: Provider<Config, unknown>, input: unknown): Config {
  const result = provider.config["~standard"].validate(input);
  if (result instanceof Promise) throw new OptionError(`provider "${provider.name}": config`, "an asynchronous schema cannot be checked when the handler is made");
  if (result.issues) throw new ValidationError(describeIssues(result.issues));
  return result.value;
}

/** `path: message; path: message`, as Standard Schema issues give them. */
export function describeIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): string {
  return issues
    .map((issue) => {
      const path = (issue.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
