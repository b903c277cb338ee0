import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTollgateClient, TollgateClientError, type SessionReporter, type TokenAnswer, type TollgateClientOptions } from "../src/client/index.ts";
import { createTokenHandler, type LifecycleEvent } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { createDeepgramEmulator, deepgram } from "../src/providers/deepgram/index.ts";
import { PERSONAS } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

// tollgate/client's own rules, in Node against a token handler on a loopback port: what it asks the
// server for, how often, and what it makes of the answers. The browser suites (test/browser) run
// the same client in Chromium with the providers' SDKs.

let upstream: Upstream;
let tokenUrl: string;
let handler: (request: Request) => Promise<Response>;
const events: LifecycleEvent[] = [];
/** Every request the clients sent, by path, with its body. */
const sent: Array<{ path: string; body: Record<string, unknown> }> = [];

const counting: typeof fetch = (input, init) => {
  sent.push({ path: new URL(String(input)).pathname, body: JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown> });
  return fetch(input, init);
};

/** A client of the test handler as `user`, with storage of its own (a tab), counting what it sends. */
function client(user = "alice", options: Partial<TollgateClientOptions> = {}) {
  return createTollgateClient({ url: tokenUrl, headers: () => ({ Authorization: `Bearer user:${user}` }), storage: null, fetch: counting, ...options });
}

const named = (name: string) => events.filter((event) => event.name === name);
const sentTo = (suffix: string) => sent.filter(({ path }) => path.endsWith(suffix)).length;
/** The usage reports sent about `token`, in order. */
const reportsOn = (token: string) => sent.filter(({ path, body }) => path.endsWith("/usage") && body.token === token).map(({ body }) => body);

beforeAll(async () => {
  upstream = await startUpstream();
  const grants = createDeepgramEmulator({ apiKey: TEST_API_KEY });
  const grantsUrl = (await listen("client-deepgram", grants.fetch)).url;
  handler = createTokenHandler({
    profiles: {
      support: { provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { attempts: 1 } }), config: PERSONAS.support },
      // A grant that lives 6 s, so that a prefetched one nears its expiry within the test.
      brief: { provider: deepgram({ apiKey: TEST_API_KEY, baseUrl: grantsUrl }), config: { ttlSeconds: 6 } },
    },
    authenticate: (request) => {
      const match = /^Bearer user:(\S+)$/.exec(request.headers.get("Authorization") ?? "");
      return match ? { id: match[1]! } : null;
    },
    // Room for the refreshes a prefetch makes; the last case uses one user's all.
    rateLimit: { limits: [{ name: "user", limit: 5, windowMs: 3_600_000 }] },
    logger: capturingLogger(),
    onEvent: (event) => events.push(event),
  });
  tokenUrl = `${(await listen("client-tokens", handler)).url}/api/session-token`;
});
afterAll(closeAll);

describe("tollgate/client", () => {
  it("shares one request among the calls for one profile made at the same time", async () => {
    const tab = client("sharer");
    const before = sentTo("/session-token");
    const answers = await Promise.all([tab.getToken("support"), tab.getToken("support"), tab.getToken("support")]);
    expect(sentTo("/session-token") - before).toBe(1);
    expect(new Set(answers.map((answer) => answer.token)).size).toBe(1);
    expect(answers[0]).toMatchObject({ provider: "anam", profile: "support" });
  });

  it("has a prefetched token ready, and hands it out without asking again", async () => {
    const tab = client("prefetcher");
    const before = sentTo("/session-token");
    tab.prefetch("support");
    await vi.waitFor(() => expect(sentTo("/session-token") - before).toBe(1));
    const { token } = await tab.getToken("support");
    expect(sentTo("/session-token") - before).toBe(1);
    expect(named("minted").some((event) => event.profile === "support")).toBe(true);
    expect(token.split(".")).toHaveLength(3);
  });

  it("refreshes a prefetched token that nears its expiry unused, so that a late click gets one still good", async () => {
    const tab = client("late-clicker");
    tab.prefetch("brief");
    await vi.waitFor(() => expect(named("minted").filter((event) => event.profile === "brief").length).toBeGreaterThanOrEqual(1), { timeout: 5_000 });
    const mintedBefore = named("minted").filter((event) => event.profile === "brief").length;
    // A sixth of the grant's 6 s before its expiry, the client asks again; the server's reuse margin
    // has passed as well, so a new grant is minted.
    await vi.waitFor(() => expect(named("minted").filter((event) => event.profile === "brief").length).toBeGreaterThan(mintedBefore), { timeout: 15_000, interval: 100 });
    const sentBefore = sentTo("/session-token");
    const answer = await tab.getToken("brief");
    expect(sentTo("/session-token")).toBe(sentBefore);
    expect(Date.parse(answer.expiresAt) - Date.now()).toBeGreaterThan(1_000);
    // The token it replaced unused was reported discarded before the next was asked for, so that
    // it held none of the user's sessions meanwhile (what the server makes of the report is the
    // usage route's own suite's).
    const mine = sent.filter(({ body }) => body.clientId === tab.clientId || (body.event === "discarded" && body.token !== answer.token));
    const discarded = mine.findIndex(({ body }) => body.event === "discarded");
    expect(discarded).toBeGreaterThan(0);
    expect(mine[discarded]!.body).toEqual({ token: expect.any(String), event: "discarded" });
    expect(mine.slice(discarded + 1).some(({ path }) => path.endsWith("/session-token"))).toBe(true);
  }, 25_000);

  it("reports started once and ended once, with the duration, however often the SDK says so", async () => {
    const tab = client("reporter");
    const reporter = tab.track(await tab.getToken("support"));
    const before = sentTo("/usage");
    reporter.started("session-1");
    reporter.started("session-1");
    await vi.waitFor(() => expect(named("started").length).toBeGreaterThanOrEqual(1));
    reporter.ended("closed");
    reporter.ended("closed again");
    reporter.failed("too late");
    await vi.waitFor(() => expect(named("ended").some((event) => event.user && event.durationMs !== undefined)).toBe(true));
    // A report on the way is already counted: two requests, whatever else the SDK said.
    expect(sentTo("/usage") - before).toBe(2);
    // `ended` names the session again: were `started` lost, the record would still have its id.
    expect(reportsOn(reporter.token.token)).toEqual([
      { token: reporter.token.token, event: "started", sessionId: "session-1" },
      expect.objectContaining({ token: reporter.token.token, event: "ended", sessionId: "session-1", reason: "closed", durationMs: expect.any(Number) }),
    ]);
  });

  it("gives each of two sessions started at once a token of its own, so that neither is refused for the other's", async () => {
    const tab = client("double-clicker");
    const redeemed: number[] = [];
    // As the Anam SDK does: redeem the token at the provider, then report the session started.
    const start = async (token: TokenAnswer, reporter: SessionReporter) => {
      const answer = await fetch(`${upstream.url}/v1/engine/session`, { method: "POST", headers: { Authorization: `Bearer ${token.token}`, "Content-Type": "application/json" }, body: "{}" });
      redeemed.push(answer.status);
      if (!answer.ok) throw Object.assign(new Error("refused"), { status: answer.status });
      reporter.started(((await answer.json()) as { sessionId: string }).sessionId);
      return token.token;
    };
    const isRefusal = (error: unknown) => (error as { status?: number }).status === 401;
    const [one, two] = await Promise.all([tab.runSession("support", start, { isRefusal }), tab.runSession("support", start, { isRefusal })]);
    expect(one).not.toBe(two);
    expect(redeemed).toEqual([200, 200]);
    await vi.waitFor(() => expect([...reportsOn(one), ...reportsOn(two)].map(({ event }) => event)).toEqual(["started", "started"]));
  });

  it("waits out a 503 and a 429 on a usage report, and a server not reached, so that a used token's start is not lost", async () => {
    const tab = client("unlucky-reporter");
    const token = await tab.getToken("support");
    // In front of the handler, the usage route's limit and a store blip, once each.
    const refusals = [503, 429];
    const front = await listen("client-flaky-usage", (request) => {
      const status = new URL(request.url).pathname.endsWith("/usage") ? refusals.shift() : undefined;
      if (status === undefined) return handler(request);
      const code = status === 429 ? "rate_limited" : "store_unavailable";
      return Response.json({ type: `urn:tollgate:error:${code}`, status }, { status, headers: { "Retry-After": "0", "Content-Type": "application/problem+json" } });
    });
    const startedBefore = named("started").length;
    const flaky = client("unlucky-reporter", { url: `${front.url}/api/session-token` });
    flaky.track(token).started("session-after-two-refusals");
    await vi.waitFor(() => expect(named("started").length).toBe(startedBefore + 1), { timeout: 5_000 });
    expect(refusals).toEqual([]);

    // A report that found no server at all is sent again too.
    let unreachable = 1;
    const offline = client("unlucky-reporter", {
      fetch: (input, init) => (String(input).endsWith("/usage") && unreachable-- > 0 ? Promise.reject(new TypeError("Failed to fetch")) : counting(input, init)),
    });
    const other = await offline.getToken("support");
    const failedBefore = named("session_failed").length;
    await offline.track(other).failed("refused");
    expect(unreachable).toBeLessThan(0);
    expect(reportsOn(other.token).map(({ event }) => event)).toEqual(["failed"]);
    expect(named("session_failed").length).toBe(failedBefore + 1);
  });

  it("refuses options it cannot use when it is made, naming the option", () => {
    const make = (options: Partial<TollgateClientOptions>) => () => createTollgateClient({ url: tokenUrl, storage: null, ...options } as TollgateClientOptions);
    expect(make({ maxAttempts: Number.NaN })).toThrow(expect.objectContaining({ name: "TollgateClientError", code: "invalid_option", message: expect.stringMatching(/^maxAttempts: /) }));
    expect(make({ maxAttempts: 0 })).toThrow(/^maxAttempts: /);
    expect(make({ maxAttempts: 2.5 })).toThrow(/^maxAttempts: /);
    expect(make({ maxRetryDelayMs: -1 })).toThrow(/^maxRetryDelayMs: /);
    expect(make({ maxRetryDelayMs: Number.NaN })).toThrow(/^maxRetryDelayMs: /);
    expect(make({ headers: { Authorization: "Bearer user:alice" } as never })).toThrow(/^headers: /);
    expect(make({ url: undefined })).toThrow(/^url: /);
    expect(make({ maxAttempts: 1, maxRetryDelayMs: 0 })).not.toThrow();
  });

  it("waits between attempts even when Retry-After says 0", async () => {
    let asked = 0;
    const busy = await listen("client-busy", () => {
      asked++;
      return Response.json({ type: "urn:tollgate:error:upstream_unavailable" }, { status: 503, headers: { "Retry-After": "0" } });
    });
    const retries: Array<{ delayMs: number }> = [];
    const error = await createTollgateClient({ url: busy.url, storage: null, maxAttempts: 3, onRetry: (info) => retries.push(info) })
      .getToken("support")
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "upstream_unavailable", status: 503 });
    expect(asked).toBe(3);
    expect(retries).toHaveLength(2);
    for (const { delayMs } of retries) expect(delayMs).toBeGreaterThan(0);
  });

  it("types a 200 that is not a token as an invalid answer, not a SyntaxError", async () => {
    const page = await listen("client-200-page", () => new Response("<html>Welcome</html>", { headers: { "Content-Type": "text/html" } }));
    const error = await createTollgateClient({ url: page.url, storage: null }).getToken("support").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TollgateClientError);
    expect(error).toMatchObject({ code: "invalid_response", status: 200 });
    const empty = await listen("client-200-empty", () => Response.json({ hello: "world" }));
    await expect(createTollgateClient({ url: empty.url, storage: null }).getToken("support")).rejects.toMatchObject({ code: "invalid_response", status: 200 });
  });

  it("types the server's refusals by their problem type, and a page that is not a problem by its status", async () => {
    const anonymous = createTollgateClient({ url: tokenUrl, storage: null });
    await expect(anonymous.getToken("support")).rejects.toMatchObject({ name: "TollgateClientError", code: "unauthenticated", status: 401 });
    await expect(client("typer").getToken("no-such-profile")).rejects.toMatchObject({ code: "unknown_profile", status: 400 });
    const proxy = (await listen("client-proxy-page", () => new Response("<html>Bad gateway</html>", { status: 502, headers: { "Content-Type": "text/html" } }))).url;
    const error = await createTollgateClient({ url: proxy, storage: null }).getToken("support").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TollgateClientError);
    expect(error).toMatchObject({ code: "http_502", status: 502 });
    const unreachable = await createTollgateClient({ url: "http://127.0.0.1:1/api/session-token", storage: null }).getToken("support").catch((caught: unknown) => caught);
    expect(unreachable).toMatchObject({ code: "network", status: 0 });
  });

  it("waits out a 503 as its Retry-After says, then gets the token", async () => {
    const retries: Array<{ attempt: number; delayMs: number; status: number }> = [];
    const tab = client("patient", { onRetry: (info) => retries.push(info) });
    upstream.emulator.inject({ status: 503, retryAfter: 1 });
    const answer = await tab.getToken("support");
    expect(answer.token.split(".")).toHaveLength(3);
    expect(retries).toEqual([{ attempt: 1, delayMs: 1_000, status: 503 }]);
  });

  it("fails at once on a Retry-After past its cap, rather than wait an hour", { timeout: 90_000 }, async () => {
    // Near the hour's end the wait is short enough to be waited out, which is another case.
    await clearOfWindowEdge(3_600_000, 60_000);
    const retries: unknown[] = [];
    // Five tokens an hour: five tabs take them, the sixth is told to come back in up to an hour.
    for (let tab = 0; tab < 5; tab++) await client("greedy").getToken("support");
    const error = await client("greedy", { onRetry: (info) => retries.push(info) }).getToken("support").catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "rate_limited", status: 429 });
    expect((error as TollgateClientError).retryAfterMs).toBeGreaterThan(30_000);
    expect(retries).toEqual([]);
  });
});

describe("tollgate/client with one session lease per user", () => {
  it("refreshes a prefetched token near its expiry without being refused for the lease the unused one held", async () => {
    const leaseEvents: LifecycleEvent[] = [];
    const grants = createDeepgramEmulator({ apiKey: TEST_API_KEY });
    const grantsUrl = (await listen("client-lease-deepgram", grants.fetch)).url;
    const leased = createTokenHandler({
      profiles: { brief: { provider: deepgram({ apiKey: TEST_API_KEY, baseUrl: grantsUrl }), config: { ttlSeconds: 6 } } },
      authenticate: (request) => (request.headers.get("Authorization") === "Bearer user:one-seat" ? { id: "one-seat" } : null),
      rateLimit: false,
      sessions: { maxPerUser: 1 },
      logger: capturingLogger(),
      onEvent: (event) => event.name.startsWith("lease_") && leaseEvents.push(event),
    });
    const url = `${(await listen("client-lease-tokens", leased)).url}/api/session-token`;
    const tab = createTollgateClient({ url, headers: () => ({ Authorization: "Bearer user:one-seat" }), storage: null });
    tab.prefetch("brief");
    // The prefetched grant is replaced near its expiry: the old one is discarded, its lease freed,
    // and the new one takes the user's only lease instead of being refused for it.
    await vi.waitFor(() => expect(leaseEvents.filter((event) => event.name === "lease_taken")).toHaveLength(2), { timeout: 15_000, interval: 100 });
    expect(leaseEvents.filter((event) => event.name === "lease_released").map((event) => event.reason)).toEqual(["discarded"]);
    const answer = await tab.getToken("brief");
    expect(Date.parse(answer.expiresAt) - Date.now()).toBeGreaterThan(1_000);
  }, 25_000);
});
