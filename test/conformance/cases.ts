import { decodeJwt } from "jose";
import { equal, ok, problem, status } from "./assert.ts";
import { createFixture, TOKEN_PATH, USAGE_PATH, type Fixture, type FixtureOptions, type Transport } from "./fixture.ts";

/**
 * The pipeline's contract, case by case, in web APIs only, so that every runtime can be held to it.
 * Each case gets a fresh handler and emulator; `transport` decides whether requests go straight to
 * the handler or through a real HTTP server on loopback.
 */

export interface ConformanceCase {
  name: string;
  run(transport: Transport): Promise<void>;
}

function withFixture(options: FixtureOptions, body: (fixture: Fixture) => Promise<void>) {
  return async (transport: Transport) => {
    const fixture = await createFixture(transport, options);
    try {
      await body(fixture);
    } finally {
      await fixture.close();
    }
  };
}

function test(name: string, body: (fixture: Fixture) => Promise<void>, options: FixtureOptions = {}): ConformanceCase {
  return { name, run: withFixture(options, body) };
}

async function mintedToken(response: Response): Promise<{ sessionToken: string; expiresAt: string }> {
  await status(response, 200);
  return (await response.json()) as { sessionToken: string; expiresAt: string };
}

export const cases: ConformanceCase[] = [
  test("405 with Allow: POST for a GET", async ({ send }) => {
    const response = await send(TOKEN_PATH);
    await problem(response, 405, "method_not_allowed");
    equal(response.headers.get("Allow"), "POST", "Allow");
  }),

  test("401 with a Bearer challenge when no credentials are sent", async ({ mint }) => {
    const response = await mint(undefined);
    await problem(response, 401, "unauthenticated");
    ok(response.headers.get("WWW-Authenticate")?.startsWith("Bearer "), "WWW-Authenticate names the Bearer scheme");
  }),

  test("401 for credentials nobody issued", async ({ send }) => {
    const response = await send(TOKEN_PATH, {
      method: "POST",
      headers: { Authorization: "Bearer forged", "Content-Type": "application/json" },
      body: JSON.stringify({ personaType: "support" }),
    });
    await problem(response, 401, "unauthenticated");
  }),

  test("403 for a signed-in user who may not mint, with no upstream call", async ({ mint, emulator }) => {
    await problem(await mint("mallory"), 403, "forbidden");
    equal(emulator.stats.mintRequests, 0, "upstream mint requests");
  }),

  test("415 with Accept-Post for a body that is not JSON", async ({ send }) => {
    const response = await send(TOKEN_PATH, {
      method: "POST",
      headers: { Authorization: "Bearer alice-credential", "Content-Type": "text/plain" },
      body: "personaType=support",
    });
    await problem(response, 415, "unsupported_media_type");
    equal(response.headers.get("Accept-Post"), "application/json", "Accept-Post");
  }),

  test("413 for a body over the size cap", async ({ mint }) => {
    await problem(await mint("alice", { personaType: "support", padding: "x".repeat(20_000) }), 413, "payload_too_large");
  }),

  test("413 for an oversized body streamed without Content-Length", async ({ send }) => {
    const chunk = new TextEncoder().encode(`{"personaType":"support","padding":"${"x".repeat(4_000)}`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await send(TOKEN_PATH, {
      method: "POST",
      headers: { Authorization: "Bearer alice-credential", "Content-Type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    await problem(response, 413, "payload_too_large");
  }),

  test("413 for a body longer than the Content-Length it declares", async ({ handler }) => {
    // Only a caller in the same process can send this (HTTP framing cuts a body at its declared
    // length), so it goes to the handler directly.
    const body = JSON.stringify({ personaType: "support", padding: "x".repeat(20_000) });
    const request = new Request(`http://tollgate.test${TOKEN_PATH}`, {
      method: "POST",
      headers: { Authorization: "Bearer alice-credential", "Content-Type": "application/json", "Content-Length": "40" },
      body,
    });
    await problem(await handler(request), 413, "payload_too_large");
  }),

  test("400 for a body that is not valid JSON", async ({ send }) => {
    const response = await send(TOKEN_PATH, {
      method: "POST",
      headers: { Authorization: "Bearer alice-credential", "Content-Type": "application/json" },
      body: "{personaType:",
    });
    await problem(response, 400, "invalid_request");
  }),

  test("400 for a body that breaks the schema", async ({ mint }) => {
    await problem(await mint("alice", { personaType: "support", extra: true }), 400, "invalid_request");
    await problem(await mint("alice", { personaType: 42 }), 400, "invalid_request");
  }),

  test("400 for an unknown persona type, with no upstream call", async ({ mint, emulator }) => {
    await problem(await mint("alice", { personaType: "villain" }), 400, "unknown_profile");
    equal(emulator.stats.mintRequests, 0, "upstream mint requests");
  }),

  test("400 for a raw personaConfig from the browser unless the app opts in", async ({ mint }) => {
    const config = { avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18", voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b" };
    await problem(await mint("alice", { personaConfig: config }), 400, "invalid_request");
  }),

  test("200 with the token, its expiry from the JWT, and Cache-Control: no-store", async ({ mint }) => {
    const response = await mint("alice");
    equal(response.headers.get("Cache-Control"), "no-store", "Cache-Control");
    ok(response.headers.get("Content-Type")?.startsWith("application/json"), "JSON Content-Type");
    const { sessionToken, expiresAt } = await mintedToken(response);
    const { exp } = decodeJwt(sessionToken);
    equal(new Date(expiresAt).getTime(), exp! * 1000, "expiresAt is the token's exp claim");
  }),

  test("the same user and persona get the cached token, with one upstream call", async ({ mint, emulator }) => {
    const first = await mintedToken(await mint("alice"));
    const second = await mintedToken(await mint("alice"));
    equal(second.sessionToken, first.sessionToken, "second token");
    equal(emulator.stats.tokensIssued, 1, "tokens issued upstream");
  }),

  test("two users never share a token", async ({ mint }) => {
    const alice = await mintedToken(await mint("alice"));
    const bob = await mintedToken(await mint("bob"));
    ok(alice.sessionToken !== bob.sessionToken, "alice and bob hold different tokens");
  }),

  test(
    "concurrent identical requests make one upstream call",
    async ({ mint, emulator }) => {
      const tokens = await Promise.all(Array.from({ length: 5 }, async () => (await mintedToken(await mint("alice"))).sessionToken));
      equal(new Set(tokens).size, 1, "distinct tokens");
      equal(emulator.stats.mintRequests, 1, "upstream mint requests");
    },
    { emulator: { latencyMs: 50 } },
  ),

  test("a token reported used is never handed out again", async ({ mint, report }) => {
    const first = await mintedToken(await mint("alice"));
    const used = await report("alice", { sessionToken: first.sessionToken, event: "started" });
    await status(used, 204);
    await status(await report("alice", { sessionToken: first.sessionToken, event: "ended", durationMs: 61_000 }), 204);
    const next = await mintedToken(await mint("alice"));
    ok(next.sessionToken !== first.sessionToken, "a fresh token after the first was used");
  }),

  test("the usage route refuses strangers, other users' tokens, unknown tokens and bad events", async ({ mint, report, send }) => {
    const { sessionToken } = await mintedToken(await mint("alice"));
    await problem(await report("bob", { sessionToken, event: "started" }), 403, "token_not_owned");
    await problem(await report("alice", { sessionToken: "not-a-token", event: "started" }), 404, "token_not_found");
    await problem(await report("alice", { sessionToken, event: "paused" }), 400, "invalid_request");
    const anonymous = await send(USAGE_PATH, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sessionToken, event: "started" }) });
    await problem(anonymous, 401, "unauthenticated");
  }),

  test("an upstream that fails twice and recovers is retried to a 200", async ({ mint, emulator }) => {
    emulator.inject({ status: 503 }, { status: 502 });
    await mintedToken(await mint("alice"));
    equal(emulator.stats.mintRequests, 3, "upstream mint requests");
  }),

  test("an upstream that stays down is a 503 with Retry-After", async ({ mint, emulator }) => {
    emulator.inject({ status: 503, retryAfter: 0 }, { status: 503, retryAfter: 0 }, { status: 503, retryAfter: 0 });
    const response = await mint("alice");
    await problem(response, 503, "upstream_unavailable");
    ok(response.headers.get("Retry-After") !== null, "Retry-After is set");
  }),

  test(
    "an API key the upstream refuses is a 502 that tells the browser neither the key nor the upstream's words",
    async ({ mint, emulator }) => {
      const response = await mint("alice");
      const body = await problem(response.clone(), 502, "upstream_rejected");
      const text = await response.text();
      ok(!text.includes("conformance-key") && !text.includes("Invalid API key"), `no secret or upstream text in ${JSON.stringify(body)}`);
      equal(emulator.stats.mintRequests, 1, "a refused key is not retried");
    },
    { emulator: { apiKey: "a-different-key" } },
  ),

  {
    name: "429 with Retry-After and RateLimit headers past the default per-user limit (10 an hour)",
    run: withFixture({}, async ({ mint }) => {
      for (let i = 0; i < 10; i++) await status(await mint("alice"), 200);
      const refused = await mint("alice");
      await problem(refused.clone(), 429, "rate_limited");
      ok(Number(refused.headers.get("Retry-After")) > 0, "Retry-After is a positive number of seconds");
      ok(refused.headers.get("RateLimit") !== null && refused.headers.get("RateLimit-Policy") !== null, "RateLimit and RateLimit-Policy are set");
      await status(await mint("bob"), 200);
    }),
  },
];
