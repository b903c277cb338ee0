/**
 * A provider whose config schema is not valibot's: any Standard Schema will do, so an app can bring
 * its own. Here a schema written by hand to the Standard Schema interface, on a local signer.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describe, expect, it } from "vitest";
import { createTokenHandler, defineProvider, OptionError } from "../../src/index.ts";

interface RoomConfig {
  room: string;
}

/** `{ room }`, a non-empty string: the whole schema, with no library behind it. */
const roomSchema: StandardSchemaV1<unknown, RoomConfig> = {
  "~standard": {
    version: 1,
    vendor: "hand-written",
    validate(value) {
      const room = (value as { room?: unknown } | null)?.room;
      if (typeof room !== "string" || room === "") return { issues: [{ message: "must be a room name", path: ["room"] }] };
      return { value: { room } };
    },
  },
};

const signer = (schema: StandardSchemaV1<unknown, RoomConfig> = roomSchema) =>
  defineProvider<RoomConfig, unknown>({
    name: "rooms",
    config: schema,
    tokenUse: "reusable",
    mint: async (config, { user }) => ({ token: `${config.room}.${user.id}.${crypto.randomUUID()}`, expiresAt: Date.now() + 600_000 }),
    redact: (text) => text,
  });

const authenticate = () => ({ id: "ada" });
const ask = (handler: (request: Request) => Promise<Response>, profile: string) =>
  handler(new Request("http://localhost/api/session-token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ profile }) }));

describe("a provider with a Standard Schema of its own", () => {
  it("has its configs checked by that schema when the handler is made, and mints with what it gave back", async () => {
    const handler = createTokenHandler({ authenticate, profiles: { lobby: { provider: signer(), config: { room: "lobby" } } } });
    const answer = await ask(handler, "lobby");
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { token: string }).token).toMatch(/^lobby\.ada\./);
  });

  it("fails at creation with the schema's own message, naming the profile's config", () => {
    const made = () => createTokenHandler({ authenticate, profiles: { lobby: { provider: signer(), config: { room: "" } } } });
    expect(made).toThrow(OptionError);
    expect(made).toThrow(/lobby.*config.*room: must be a room name/);
  });

  it("is refused when its schema answers asynchronously, since a config must be checked before the first request", () => {
    const later: StandardSchemaV1<unknown, RoomConfig> = { "~standard": { version: 1, vendor: "async", validate: async (value) => ({ value: value as RoomConfig }) } };
    expect(() => createTokenHandler({ authenticate, profiles: { lobby: { provider: signer(later), config: { room: "lobby" } } } })).toThrow(/asynchronous schema/);
  });
});
