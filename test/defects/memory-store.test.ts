/**
 * The embedded store under more users than it has room for: a token's record outlives its reuse
 * entry, so a used token is never handed out again, over real HTTP.
 */
import { afterAll, describe, expect, it } from "vitest";
import { memoryCache } from "../../src/index.ts";
import { closeAll, gateway, tokenOf } from "./support.ts";

afterAll(closeAll);

describe("a small embedded store and many newer users", () => {
  it("keeps the first user's record while there is room, so its started report is 204 and the used token is never handed out again", async () => {
    // Room for 20 tokens (a record and a reuse entry each); the first user reloads between newer users.
    const server = await gateway({ store: memoryCache({ maxEntries: 40 }), rateLimit: false });
    const first = await tokenOf(await server.mint("first"));
    for (let i = 0; i < 19; i++) {
      await tokenOf(await server.mint(`newer-${i}`));
      expect(await tokenOf(await server.mint("first"))).toBe(first);
    }
    expect((await server.report("first", first, "started")).status).toBe(204);
    const next = await tokenOf(await server.mint("first"));
    expect(next).not.toBe(first);
  });

  it("drops a token's reuse entry with its record when newer users push the record out, so a reloading user never gets the used token back", async () => {
    const server = await gateway({ store: memoryCache({ maxEntries: 40 }), rateLimit: false });
    const first = await tokenOf(await server.mint("first"));
    const handedToFirst = new Set<string>([first]);
    // Far more newer users than the store has room for, the first user reloading all along: a
    // reload must never keep the reuse entry alive while the record it points at goes.
    for (let i = 0; i < 100; i++) {
      await tokenOf(await server.mint(`newer-${i}`));
      handedToFirst.add(await tokenOf(await server.mint("first")));
    }
    // Every token the first user was handed is either still known (its report is accepted) or
    // no longer handed out: none is both forgotten and offered again.
    const current = await tokenOf(await server.mint("first"));
    for (const token of handedToFirst) {
      const status = (await server.report("first", token, "started")).status;
      expect([204, 404]).toContain(status);
      if (status === 404) expect(token).not.toBe(current);
    }
    // The token now offered was reported started just above, so it is never offered again.
    expect(await tokenOf(await server.mint("first"))).not.toBe(current);
  });
});
