import { describe, expect, it } from "vitest";
import { jsonResponse, tokenAnswers } from "../src/http.ts";

// A token answer's text is remembered per token; what is remembered must never be another answer.

describe("tokenAnswers", () => {
  const expiresAt = Date.UTC(2030, 0, 2, 3, 4, 5, 678);

  it("writes { sessionToken, expiresAt } with the expiry as an ISO date, the same each time", () => {
    const answer = tokenAnswers();
    const json = answer("token-a", expiresAt);
    expect(JSON.parse(json)).toEqual({ sessionToken: "token-a", expiresAt: "2030-01-02T03:04:05.678Z" });
    expect(answer("token-a", expiresAt)).toBe(json);
  });

  it("keeps each token's answer apart, and a new expiry for a token is a new answer", () => {
    const answer = tokenAnswers();
    answer("token-a", expiresAt);
    expect(JSON.parse(answer("token-b", expiresAt)).sessionToken).toBe("token-b");
    expect(JSON.parse(answer("token-a", expiresAt + 1_000)).expiresAt).toBe("2030-01-02T03:04:06.678Z");
    expect(JSON.parse(answer("token-a", expiresAt)).expiresAt).toBe("2030-01-02T03:04:05.678Z");
  });

  it("still answers every token correctly once more tokens than it keeps have passed", () => {
    const answer = tokenAnswers(2);
    for (const token of ["t1", "t2", "t3", "t1", "t3"]) {
      expect(JSON.parse(answer(token, expiresAt))).toEqual({ sessionToken: token, expiresAt: "2030-01-02T03:04:05.678Z" });
    }
  });
});

describe("jsonResponse", () => {
  it("sends the JSON text with the rate-limit fields when given, and never lets a cache keep it", async () => {
    const limited = jsonResponse('{"a":1}', { "RateLimit-Policy": '"user";q=10;w=3600', RateLimit: '"user";r=9;t=3600' });
    expect(await limited.json()).toEqual({ a: 1 });
    expect(limited.headers.get("Content-Type")).toBe("application/json");
    expect(limited.headers.get("Cache-Control")).toBe("no-store");
    expect(limited.headers.get("RateLimit")).toBe('"user";r=9;t=3600');
    const plain = jsonResponse("[]");
    expect(plain.headers.get("RateLimit-Policy")).toBeNull();
    expect(plain.headers.get("Cache-Control")).toBe("no-store");
  });
});
