import { describe, expect, it } from "vitest";
import { createTokenHandler, OptionError, type Logger } from "../../src/index.ts";
import { sha256Hex } from "../../src/canonical.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { PERSONA } from "../conformance/fixture.ts";

// Each mistake an app can make in createTokenHandler's options, and the message it gets when the
// handler is made: an OptionError naming the option, never a 500 on a user's request later.

const provider = anam.emulated();
const base = { provider, personas: { support: PERSONA }, authenticate: () => ({ id: "u" }) };

/** The message createTokenHandler throws for `options`; fails the test when it throws none. */
function messageFor(options: Record<string, unknown>): string {
  try {
    createTokenHandler(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(OptionError);
    return (error as OptionError).detail;
  }
  throw new Error("createTokenHandler accepted the options");
}

describe("a misconfigured createTokenHandler", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["no authenticate", { provider, personas: { support: PERSONA } }, "authenticate: is required: a function from the request to the signed-in user (or null)"],
    ["no profiles and no personas", { authenticate: base.authenticate, provider }, "profiles: is required: name the profiles a browser may ask for (or give provider and personas)"],
    ["personas without a provider", { authenticate: base.authenticate, personas: { support: PERSONA } }, "provider: is required with personas"],
    ["a profile that is not a provider", { authenticate: base.authenticate, profiles: { support: { provider: { name: "anam" }, config: PERSONA } } }, 'profiles.support: provider: must be a provider, such as anam({ apiKey })'],
    ["a persona whose config fails the schema", { ...base, personas: { support: { ...PERSONA, voiceId: "not-a-uuid" } } }, "personas.support: config: voiceId: must be a UUID"],
    ["a persona name a browser can never send", { ...base, personas: { "sales team": PERSONA } }, 'personas.sales team: "sales team" can never be requested: a profile name is 1-64 letters, digits, \'_\', \'.\' or \'-\''],
    ["a rate limit that is not one", { ...base, rateLimit: "ten an hour" }, 'rateLimit: "ten an hour" is not of the form <limit>/<window>, like 10/1h or 100/30m'],
    ["a misspelt rate-limit field", { ...base, rateLimit: { limit: 10, window: "1h" } }, "rateLimit.limit: is not an option; use limits, store, onStoreError, storeTimeoutMs, onStoreFailure, now (limits: [{ name, limit, windowMs }]), or a string like \"10/1h\""],
    ["a null rate limit, which would apply the default", { ...base, rateLimit: null }, "rateLimit: is null: pass false for no rate limit, or leave it out for the default (10 an hour per user)"],
    ["no limits, which would limit nothing", { ...base, rateLimit: { limits: [] } }, "rateLimit.limits: is empty, which would limit nothing: pass rateLimit: false for no rate limit"],
    ["a misspelt field of one limit", { ...base, rateLimit: { limits: [{ limit: 10, window: "1h" }] } }, "rateLimit.limits[0].window: is not a field of a limit; use name, algorithm, limit, windowMs, cost, key (did you mean windowMs?)"],
    ["a limit without a window", { ...base, rateLimit: { limits: [{ name: "user", limit: 10, windowMs: 3_600_000 }, { name: "global", limit: 100 }] } }, "rateLimit.limits[1].windowMs: must be a positive integer (milliseconds), got undefined"],
    ["a limit without a name", { ...base, rateLimit: { limits: [{ limit: 10, windowMs: 60_000 }] } }, 'rateLimit.limits[0].name: must be 1-64 letters, digits, "_", "-" or ".", got undefined'],
    ["a provider given by its name", { ...base, provider: "anam" }, 'provider: must be a provider object, such as anam({ apiKey }); a name like "anam" is for a profile\'s provider, with the provider itself in providers'],
    ["a misspelt option", { ...base, personaz: {} }, "personaz: is not an option of createTokenHandler; did you mean personas?"],
    ["a misspelt option, further off", { ...base, rateLimits: "10/1h" }, "rateLimits: is not an option of createTokenHandler; did you mean rateLimit?"],
    ["a logger that is not one", { ...base, logger: console.log }, "logger: must be a logger with error, warn and info methods, such as pino's or consoleLogger"],
    ["a store that is not one", { ...base, store: { get: async () => undefined } }, "store: must be a cache store (get, set, delete), such as redisStore({ url })"],
    ["an unknown store-failure policy", { ...base, onStoreError: "retry" }, 'onStoreError: must be "closed", "open" or "memory"'],
    ["a flag that is not a boolean", { ...base, recordUserIds: "yes" }, "recordUserIds: must be true or false"],
    ["a realm with a quote", { ...base, realm: 'my "app"' }, "realm: must be 1-64 printable characters without quotes or backslashes"],
    ["a CORS origin with a path", { ...base, cors: { origins: ["https://app.example.com/"] } }, 'cors.origins: "https://app.example.com/" must be written as its origin, https://app.example.com'],
  ];
  for (const [mistake, options, message] of cases) {
    it(`says so for ${mistake}: "${message}"`, () => {
      expect(messageFor(options)).toBe(message);
    });
  }

  it('takes the "10/1h" form of rateLimit, and refuses a window it cannot read with the format it wants', () => {
    expect(() => createTokenHandler({ ...base, rateLimit: "10/1h" })).not.toThrow();
    expect(messageFor({ ...base, rateLimit: "10 per hour" })).toBe('rateLimit: "10 per hour" is not of the form <limit>/<window>, like 10/1h or 100/30m');
  });
});

describe("an authenticate that returns something that is not a user", () => {
  function loggerKeepingLines(): Logger & { lines: Array<{ fields: Record<string, unknown>; message: string }> } {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const keep = (fields: Record<string, unknown>, message: string) => void lines.push({ fields, message });
    return { lines, error: keep, warn: keep, info: keep };
  }
  const request = () => new Request("http://app.test/api/session-token", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"profile":"support"}' });

  it("is said once in development, with what it returned but not its value, and the request is a 401", async () => {
    const logger = loggerKeepingLines();
    const handler = createTokenHandler({ ...base, authenticate: () => "user-42" as never, logger, dev: true });
    expect((await handler(request())).status).toBe(401);
    expect((await handler(request())).status).toBe(401);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.message).toBe(
      'authenticate returned a string (a user id? return { id } instead), which is not a user: return { id: string, ... } for a signed-in user, or null for none. The request was answered 401. Said once, in development (NODE_ENV is not "production"; dev: false turns it off).',
    );
    expect(JSON.stringify(logger.lines)).not.toContain("user-42");
  });

  it("names the keys of an object without an id, as from a JWT's claims", async () => {
    const logger = loggerKeepingLines();
    const handler = createTokenHandler({ ...base, authenticate: () => ({ sub: "u-1", email: "a@b.c" }) as never, logger, dev: true });
    await handler(request());
    expect(logger.lines[0]!.fields).toEqual({ option: "authenticate", returned: "an object without an id (its keys: sub, email)" });
  });

  it("takes an id that is not well-formed Unicode for no user: its digest would be another id's", async () => {
    const logger = loggerKeepingLines();
    const handler = createTokenHandler({ ...base, authenticate: () => ({ id: "user-\ud800" }), logger, dev: true });
    expect((await handler(request())).status).toBe(401);
    expect(logger.lines[0]!.fields).toEqual({ option: "authenticate", returned: "an object whose id is not well-formed Unicode (it holds a lone surrogate)" });
    // Where the issuer is called directly, the digest refuses it.
    await expect(sha256Hex("user:user-\ud800") as Promise<string>).rejects.toThrow(/not well-formed Unicode/);
  });

  it("is not said for null (no user), nor with dev: false", async () => {
    const logger = loggerKeepingLines();
    await createTokenHandler({ ...base, authenticate: () => null, logger, dev: true })(request());
    await createTokenHandler({ ...base, authenticate: () => 42 as never, logger, dev: false })(request());
    expect(logger.lines).toEqual([]);
  });
});
