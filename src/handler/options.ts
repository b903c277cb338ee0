import { OptionError } from "../errors.ts";
import type { Logger } from "../log.ts";

/**
 * The checks on createTokenHandler's options that are not some other module's: names that are not
 * options (a misspelt `personaz` would otherwise be ignored and its default applied), and options
 * of the wrong kind. Each failure is an OptionError naming the option, thrown when the handler is
 * made. Profiles, rate limits and CORS are checked by their own modules.
 */

const OPTIONS = [
  "authenticate", "authorize", "profiles", "providers", "provider", "personas", "allowClientConfig", "maxSessionSeconds",
  "maxBodyBytes", "store", "reuse", "rateLimit", "rateLimitFieldsOnSuccess", "usageRateLimit", "onStoreError", "storeFailureLogIntervalMs", "cors", "issuer", "onEvent",
  "logger", "realm", "recordUserIds", "tracerProvider", "meterProvider", "sessions", "dev",
] as const;
const KNOWN = new Set<string>(OPTIONS);

export function checkHandlerOptions(options: Record<string, unknown>): void {
  for (const key of Object.keys(options)) {
    if (KNOWN.has(key) || options[key] === undefined) continue;
    const near = OPTIONS.find((option) => closeTo(option.toLowerCase(), key.toLowerCase()));
    throw new OptionError(key, `is not an option of createTokenHandler${near ? `; did you mean ${near}?` : ""}`);
  }
  const kind = (key: string, test: (value: unknown) => boolean, expected: string) => {
    if (options[key] !== undefined && !test(options[key])) throw new OptionError(key, `must be ${expected}`);
  };
  const isFunction = (value: unknown) => typeof value === "function";
  const has = (...methods: string[]) => (value: unknown) => typeof value === "object" && value !== null && methods.every((method) => typeof (value as Record<string, unknown>)[method] === "function");
  kind("onEvent", isFunction, "a function, called with every lifecycle event");
  kind("logger", has("error", "warn", "info"), "a logger with error, warn and info methods, such as pino's or consoleLogger");
  kind("store", has("get", "set", "delete"), "a cache store (get, set, delete), such as redisStore({ url })");
  kind("issuer", has("issue", "reportUsage"), "an issuer made by createTokenIssuer");
  // A provider's name is how a profile refers to one of `providers`; this option takes the provider itself.
  kind("provider", has("mint"), 'a provider object, such as anam({ apiKey }); a name like "anam" is for a profile\'s provider, with the provider itself in providers');
  kind("onStoreError", (value) => value === "closed" || value === "open" || value === "memory", '"closed", "open" or "memory"');
  kind("reuse", (value) => value === false || (typeof value === "object" && value !== null), "false or { marginMs }");
  kind("realm", (value) => typeof value === "string" && /^[\x20-\x7e]{1,64}$/.test(value) && !/["\\]/.test(value), "1-64 printable characters without quotes or backslashes");
  kind("tracerProvider", has("getTracer"), "an OpenTelemetry TracerProvider");
  kind("meterProvider", has("getMeter"), "an OpenTelemetry MeterProvider");
  for (const flag of ["allowClientConfig", "rateLimitFieldsOnSuccess", "recordUserIds", "dev"]) kind(flag, (value) => typeof value === "boolean", "true or false");
}

/** One edit apart (a letter missing, added, changed or two swapped), or one name inside the other. */
function closeTo(option: string, key: string): boolean {
  if (option.includes(key) || key.includes(option)) return key.length >= 4;
  if (Math.abs(option.length - key.length) > 1) return false;
  let i = 0;
  while (i < option.length && option[i] === key[i]) i++;
  const rest = (a: string, b: string) => a.slice(i + 1) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i) || a.slice(i) === b.slice(i + 1);
  return rest(option, key) || (option[i] === key[i + 1] && option[i + 1] === key[i] && option.slice(i + 2) === key.slice(i + 2));
}

/**
 * In development, says once that `authenticate` returned something that is not a user, since the
 * request is then answered 401 and the app's author would otherwise see only that. Development
 * means the `dev` option, or else NODE_ENV other than "production" where there is a NODE_ENV.
 */
export function notAUserReporter(logger: Logger, dev: boolean | undefined): (value: unknown) => void {
  const nodeEnv = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NODE_ENV;
  let enabled = dev ?? nodeEnv !== "production";
  return (value) => {
    if (!enabled || value === null || value === undefined) return;
    enabled = false;
    logger.warn(
      { option: "authenticate", returned: describe(value) },
      `authenticate returned ${describe(value)}, which is not a user: return { id: string, ... } for a signed-in user, or null for none. ` +
        'The request was answered 401. Said once, in development (NODE_ENV is not "production"; dev: false turns it off).',
    );
  };
}

/** What a value is, without repeating it: it may be a token or a user's details. */
function describe(value: unknown): string {
  if (typeof value === "string") return "a string (a user id? return { id } instead)";
  if (typeof value !== "object" || value === null) return `a ${typeof value}`;
  if (typeof Response !== "undefined" && value instanceof Response) return "a Response";
  const id = (value as { id?: unknown }).id;
  if (id === undefined) return `an object without an id (its keys: ${Object.keys(value).slice(0, 8).join(", ") || "none"})`;
  if (id === "") return "an object whose id is empty";
  if (typeof id === "string") return "an object whose id is not well-formed Unicode (it holds a lone surrogate)";
  return `an object whose id is a ${typeof id}, not a string`;
}
