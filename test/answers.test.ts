import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tokenAnswers } from "../src/handler/answers.ts";
import type { IssuedToken } from "../src/issuer/index.ts";

// The token route remembers the text of recent answers; what it answers must always be the text
// it would have written afresh.

const fresh = (issued: IssuedToken) =>
  JSON.stringify({ token: issued.token, expiresAt: new Date(issued.expiresAt).toISOString(), provider: issued.provider, profile: issued.profile, ...issued.extra });

describe("tokenAnswers", () => {
  it("writes the wire contract's answer: token, expiresAt in ISO 8601, provider, profile and the provider's extra", () => {
    const answer = tokenAnswers()({ token: "t-1", expiresAt: Date.UTC(2026, 11, 1, 12), provider: "anam", profile: "support", extra: { sessionToken: "t-1" }, cacheHit: true });
    expect(JSON.parse(answer)).toEqual({ token: "t-1", expiresAt: "2026-12-01T12:00:00.000Z", provider: "anam", profile: "support", sessionToken: "t-1" });
  });

  it("answers as if afresh for any order of tokens, profiles and expiries, however few it holds", () => {
    const issued = fc.record({
      token: fc.constantFrom("t-1", "t-2", "t-3", "t-4"),
      // Two profiles that share a config share its tokens.
      profile: fc.constantFrom("support", "sales"),
      expiresAt: fc.constantFrom(1_800_000_000_000, 1_800_000_600_000),
    });
    // One token always comes with one extra, as it does from its one mint.
    const extraOf = (token: string) => (token === "t-1" || token === "t-3" ? { serverUrl: `wss://rooms/${token}` } : undefined);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(issued, { maxLength: 40 }), (max, sequence) => {
        const answer = tokenAnswers(max);
        for (const { token, profile, expiresAt } of sequence) {
          const item: IssuedToken = { token, profile, expiresAt, provider: "anam", cacheHit: true, extra: extraOf(token) };
          expect(answer(item)).toBe(fresh(item));
        }
      }),
    );
  });
});
