import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenHandler, problemType, type LifecycleEvent } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { PERSONAS, asUser, authenticate, authorize } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";

// Each status of the pipeline, asked over real HTTP: the handler on one loopback port, the Anam
// emulator on another.

let upstream: Upstream;
let url: string;
const events: LifecycleEvent[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  const handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
    authenticate,
    authorize,
    personas: PERSONAS,
    maxBodyBytes: 1024,
    logger: capturingLogger(),
    onEvent: (event) => events.push(event),
  });
  url = (await listen("handler", handler)).url + "/api/session-token";
});
afterAll(closeAll);

async function problem(response: Response) {
  expect(response.headers.get("Content-Type")).toBe("application/problem+json");
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  const body = (await response.json()) as { type: string; status: number; title: string; detail: string };
  expect(body.status).toBe(response.status);
  return body;
}

describe("the token route", () => {
  it("answers 200 with a token, its expiry and no-store", async () => {
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = (await response.json()) as { token: string; sessionToken: string; expiresAt: string; provider: string; profile: string };
    expect(Object.keys(body).sort()).toEqual(["expiresAt", "profile", "provider", "sessionToken", "token"]);
    expect(body).toMatchObject({ provider: "anam", profile: "support", sessionToken: body.token });
    expect(body.token.split(".")).toHaveLength(3);
    const lifetimeMs = Date.parse(body.expiresAt) - Date.now();
    expect(lifetimeMs).toBeGreaterThan(59 * 60 * 1000);
    expect(lifetimeMs).toBeLessThanOrEqual(60 * 60 * 1000);
  });

  it("routes by the URL's path alone, whatever its query, fragment or trailing slash", async () => {
    const minted = await fetch(`${url}?next=/usage`, asUser("alice"));
    expect(minted.status).toBe(200);
    const { sessionToken } = (await minted.json()) as { sessionToken: string };
    const report = await fetch(`${url}/usage/?from=/session-token#top`, asUser("alice", { sessionToken, event: "started" }));
    expect(report.status).toBe(204);
  });

  it("refuses other methods with 405 and Allow", async () => {
    const response = await fetch(url, { method: "GET" });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toBe("POST");
    expect((await problem(response)).type).toBe(problemType("method_not_allowed"));
  });

  it("asks for credentials with 401 and WWW-Authenticate", async () => {
    for (const authorization of [undefined, "Bearer nobody-token", "Basic YWxpY2U6eA=="]) {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (authorization) headers.Authorization = authorization;
      const response = await fetch(url, { method: "POST", headers, body: '{"personaType":"support"}' });
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="tollgate"');
      expect((await problem(response)).type).toBe(problemType("unauthenticated"));
    }
  });

  it("refuses a user without permission with 403, before reading the body", async () => {
    const response = await fetch(url, { ...asUser("mallory"), body: "not even json" });
    expect(response.status).toBe(403);
    expect((await problem(response)).type).toBe(problemType("forbidden"));
  });

  it("refuses a body that is not JSON with 415", async () => {
    const response = await fetch(url, { method: "POST", headers: { Authorization: "Bearer alice-token", "Content-Type": "text/plain" }, body: "personaType=support" });
    expect(response.status).toBe(415);
    expect((await problem(response)).type).toBe(problemType("unsupported_media_type"));
  });

  it("accepts JSON media types with parameters and +json suffixes", async () => {
    for (const contentType of ["application/json; charset=utf-8", "application/vnd.tollgate+json"]) {
      const response = await fetch(url, { method: "POST", headers: { Authorization: "Bearer alice-token", "Content-Type": contentType }, body: '{"personaType":"support"}' });
      expect(response.status).toBe(200);
    }
  });

  it("refuses a body over the cap with 413, announced or streamed", async () => {
    const big = JSON.stringify({ personaType: "support", padding: "x".repeat(4096) });
    const announced = await fetch(url, { ...asUser("alice"), body: big });
    expect(announced.status).toBe(413);
    expect((await problem(announced)).type).toBe(problemType("payload_too_large"));

    const chunks = [big.slice(0, 600), big.slice(600)];
    const stream = new ReadableStream({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(chunk));
      },
    });
    const streamed = await fetch(url, { ...asUser("alice"), body: stream, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("refuses malformed and off-schema bodies with 400 saying what is wrong", async () => {
    const cases: Array<[string, RegExp]> = [
      ["{not json", /not valid JSON/],
      ["[]", /object/i],
      ['{"personaType": 7}', /personaType/],
      ['{"personaType": "support", "extra": 1}', /extra/],
      ['{"personaType": "../etc"}', /personaType/],
      ["{}", /profile is required/],
    ];
    for (const [body, detail] of cases) {
      const response = await fetch(url, { ...asUser("alice"), body });
      expect(response.status, body).toBe(400);
      const parsed = await problem(response);
      expect(parsed.type).toBe(problemType("invalid_request"));
      expect(parsed.detail).toMatch(detail);
    }
  });

  it("refuses an unknown persona type with 400, and makes no upstream call", async () => {
    const before = upstream.emulator.stats.mintRequests;
    for (const personaType of ["nope", "constructor", "__proto__", "toString"]) {
      const response = await fetch(url, asUser("alice", { personaType }));
      expect(response.status, personaType).toBe(400);
      expect((await problem(response)).type).toBe(problemType("unknown_profile"));
    }
    expect(upstream.emulator.stats.mintRequests).toBe(before);
  });

  it("refuses a browser-sent persona config unless the app opted in", async () => {
    const response = await fetch(url, asUser("alice", { personaConfig: PERSONAS.support }));
    expect(response.status).toBe(400);
    expect((await problem(response)).detail).toMatch(/not accepted/);
  });

  it("emits requested, denied and issued events that carry no user id or token", async () => {
    const seen = new Set(events.map((event) => event.name));
    for (const name of ["requested", "denied", "failed", "issued", "minting", "minted"] as const) expect(seen).toContain(name);
    const text = JSON.stringify(events);
    expect(text).not.toContain("alice");
    expect(text).not.toContain(TEST_API_KEY);
  });
});

describe("client-chosen persona configs, when the app opts in", () => {
  let openUrl: string;
  beforeAll(async () => {
    const handler = createTokenHandler({
      provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
      authenticate,
      personas: {},
      allowClientConfig: true,
      logger: capturingLogger(),
    });
    openUrl = (await listen("handler-open", handler)).url + "/api/session-token";
  });

  it("mints for a valid config", async () => {
    const response = await fetch(openUrl, asUser("alice", { personaConfig: PERSONAS.sales }));
    expect(response.status).toBe(200);
  });

  it("refuses an invalid config before any upstream call", async () => {
    const before = upstream.emulator.stats.mintRequests;
    const response = await fetch(openUrl, asUser("alice", { personaConfig: { ...PERSONAS.support, avatarId: "not-a-uuid" } }));
    expect(response.status).toBe(400);
    expect((await problem(response)).detail).toMatch(/avatarId/);
    expect(upstream.emulator.stats.mintRequests).toBe(before);
  });
});

describe("a handler built with a bad persona map", () => {
  it("fails at start-up, naming the persona", () => {
    expect(() =>
      createTokenHandler({
        provider: anam({ apiKey: TEST_API_KEY }),
        authenticate,
        personas: { broken: { avatarId: "x", voiceId: "y" } },
      }),
    ).toThrow(/personas\.broken: config: avatarId: must be a UUID/);
  });
});

describe("async hooks and a persona resolver", () => {
  let resolverUrl: string;
  const logger = capturingLogger();
  beforeAll(async () => {
    const handler = createTokenHandler({
      provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
      authenticate: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return authenticate(request);
      },
      authorize: async (user) => user.canAccessPersonas,
      // Configs that depend on who asks: each user's tutor knows their name.
      personas: async (personaType, user) => {
        if (personaType === "tutor") return { ...PERSONAS.support, systemPrompt: `You tutor ${user.id}.` };
        if (personaType === "broken") return { ...PERSONAS.support, voiceId: "oops" };
        return undefined;
      },
      logger,
    });
    resolverUrl = (await listen("handler-resolver", handler)).url + "/api/session-token";
  });

  it("awaits every hook and mints the resolved config", async () => {
    expect((await fetch(resolverUrl, asUser("alice", { personaType: "tutor" }))).status).toBe(200);
    expect((await fetch(resolverUrl, asUser("mallory", { personaType: "tutor" }))).status).toBe(403);
  });

  it("answers 400 when the resolver knows no such persona", async () => {
    const response = await fetch(resolverUrl, asUser("alice", { personaType: "nobody" }));
    expect(response.status).toBe(400);
    expect((await problem(response)).type).toBe(problemType("unknown_profile"));
  });

  it("answers 500 when the app's own resolver returns a bad config, and says why in the log only", async () => {
    const response = await fetch(resolverUrl, asUser("alice", { personaType: "broken" }));
    expect(response.status).toBe(500);
    expect((await problem(response)).detail).not.toMatch(/voiceId/);
    expect(logger.lines.map((line) => JSON.parse(line).cause).join("\n")).toMatch(/profile "broken": config: voiceId: must be a UUID/);
  });
});
