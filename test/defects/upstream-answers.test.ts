/**
 * A lying upstream: an expired token, an absurd Retry-After, a body without end, a token longer
 * than the usage route takes. Each is an upstream error, never an answer, over real HTTP.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAll, gateway, tokenOf, type Gateway } from "./support.ts";

let server: Gateway;
beforeAll(async () => {
  server = await gateway({ rateLimit: false, retry: { attempts: 1 } });
});
afterAll(closeAll);

/** A JWT as Anam's are (HS256, `exp`), with `extra` claims. */
function anamLikeToken(expiresAtSeconds: number, extra: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ type: "ephemeral", ...extra })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setExpirationTime(expiresAtSeconds)
    .sign(crypto.getRandomValues(new Uint8Array(32)));
}

async function problemOf(response: Response): Promise<{ status: number; type: string; retryAfter: string | null }> {
  const body = (await response.json()) as { type: string };
  return { status: response.status, type: body.type, retryAfter: response.headers.get("Retry-After") };
}

describe("an upstream that answers 200 with a token nobody can use", () => {
  it("is a 502 upstream_invalid_response when the token's exp has already passed", async () => {
    const expired = await anamLikeToken(Math.floor(Date.now() / 1000) - 60);
    server.upstream.emulator.inject({ status: 200, body: JSON.stringify({ sessionToken: expired }) });
    const response = await server.mint("expired-token");
    expect(await problemOf(response)).toMatchObject({ status: 502, type: "urn:tollgate:error:upstream_invalid_response" });
  });

  it("is a 502 when the token is longer than the usage route accepts (9 000 characters)", async () => {
    const long = await anamLikeToken(Math.floor(Date.now() / 1000) + 3600, { pad: "p".repeat(6_700) });
    expect(long.length).toBeGreaterThan(9_000);
    server.upstream.emulator.inject({ status: 200, body: JSON.stringify({ sessionToken: long }) });
    const response = await server.mint("long-token");
    expect(await problemOf(response)).toMatchObject({ status: 502, type: "urn:tollgate:error:upstream_invalid_response" });
  });

  it("is a 502 when the token is not well-formed Unicode, which no report could name", async () => {
    const token = await anamLikeToken(Math.floor(Date.now() / 1000) + 3600);
    // JSON.stringify escapes the half of a surrogate pair, and JSON.parse gives it back as it was.
    server.upstream.emulator.inject({ status: 200, body: JSON.stringify({ sessionToken: `${token}\ud800` }) });
    const response = await server.mint("half-pair-token");
    expect(await problemOf(response)).toMatchObject({ status: 502, type: "urn:tollgate:error:upstream_invalid_response" });
  });

  it("is a 502 when the body is 10 MB, and the token in it is neither handed out nor cached", async () => {
    const token = await anamLikeToken(Math.floor(Date.now() / 1000) + 3600);
    server.upstream.emulator.inject({ status: 200, body: JSON.stringify({ sessionToken: token, padding: "x".repeat(10 * 1024 * 1024) }) });
    const response = await server.mint("huge-body");
    const text = await response.text();
    expect(response.status).toBe(502);
    expect(text).not.toContain(token);
    const callsBefore = server.upstream.emulator.stats.mintRequests;
    const next = await tokenOf(await server.mint("huge-body"));
    expect(next).not.toBe(token);
    expect(server.upstream.emulator.stats.mintRequests).toBe(callsBefore + 1);
  });
});

describe("an upstream that asks for an absurd wait", () => {
  const inSeconds = (years: number) => Math.round(years * 365.25 * 86_400);
  it.each([
    ["1e+23", "1e+23"],
    ["10^23 seconds in digits", "1" + "0".repeat(23)],
    ["a delay of 31 years", String(inSeconds(31))],
    ["an HTTP date 73 years out", new Date(Date.now() + inSeconds(73) * 1000).toUTCString()],
  ])("passes on valid delay-seconds of at most an hour: %s", async (_, retryAfter) => {
    server.upstream.emulator.inject({ status: 503, retryAfter });
    const problem = await problemOf(await server.mint("absurd-wait"));
    expect(problem).toMatchObject({ status: 503, type: "urn:tollgate:error:upstream_unavailable" });
    expect(problem.retryAfter).toMatch(/^\d+$/);
    expect(Number(problem.retryAfter)).toBeLessThanOrEqual(3600);
    expect(Number(problem.retryAfter)).toBeGreaterThanOrEqual(1);
  });
});
