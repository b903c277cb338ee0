/**
 * A mint that fails upstream does not use up the user's quota: the limiter takes the units before
 * the upstream call (so concurrent requests cannot overrun it) and gives them back when the call
 * fails, over real HTTP, on the embedded store and on the real Redis.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { clearOfWindowEdge } from "../support/windows.ts";
import { closeAll, gateway, type Gateway } from "./support.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const stores: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await closeAll();
  await Promise.all(stores.map((store) => store.close()));
});

async function statuses(responses: Promise<Response>[]): Promise<Record<number, number>> {
  const tally: Record<number, number> = {};
  for (const response of await Promise.all(responses)) {
    tally[response.status] = (tally[response.status] ?? 0) + 1;
    await response.body?.cancel();
  }
  return tally;
}

const cases: Array<[string, () => Promise<Gateway>]> = [
  ["the embedded store", () => gateway({ rateLimit: "3/1h", retry: { attempts: 1 } })],
  [
    "the real Redis",
    () => {
      const store = redisStore({ url: REDIS_URL, prefix: `tollgate-refund-${process.pid}-${crypto.randomUUID().slice(0, 8)}` });
      stores.push(store);
      return gateway({ rateLimit: "3/1h", retry: { attempts: 1 }, store });
    },
  ],
];

describe.each(cases)("failed mints, on %s", (_, makeGateway) => {
  beforeEach(() => clearOfWindowEdge(3_600_000));

  it("do not count: ten requests that all failed upstream leave the user's three tokens an hour", async () => {
    const server = await makeGateway();
    for (const status of [500, 503, 401, 500, 429, 502, 500, 403, 500, 504]) server.upstream.emulator.inject({ status });
    for (let i = 0; i < 10; i++) expect([502, 503]).toContain((await server.mint("unlucky")).status);
    expect(await statuses([0, 1, 2].map(() => server.mint("unlucky")))).toEqual({ 200: 3 });
    expect((await server.mint("unlucky", { personaType: "support", clientId: "another-tab" })).status).toBe(429);
  });

  it("cannot be overrun by concurrent requests: the units are taken before the upstream call and given back after it failed", async () => {
    const server = await makeGateway();
    // Long enough that all twenty have been decided before the first failure gives its unit back,
    // however slowly a busy machine gets them onto the wire.
    server.upstream.emulator.latencyMs = 2_000;
    for (let i = 0; i < 20; i++) server.upstream.emulator.inject({ status: 500 });
    // Twenty at once, each in a tab of its own (so that none shares another's mint): three get
    // through to the failing upstream, the rest are refused while those three hold the units.
    const body = (i: number) => ({ personaType: "support", clientId: `burst-${i}` });
    expect(await statuses(Array.from({ length: 20 }, (_, i) => server.mint("burst", body(i))))).toEqual({ 503: 3, 429: 17 });
    server.upstream.emulator.clearFaults();
    expect(await statuses(Array.from({ length: 6 }, (_, i) => server.mint("burst", body(100 + i))))).toEqual({ 200: 3, 429: 3 });
  });
});

describe("a request refused for its session limit", () => {
  beforeEach(() => clearOfWindowEdge(3_600_000));

  it("does not count against the rate limit either: it was handed nothing", async () => {
    const server = await gateway({ rateLimit: "2/1h", sessions: { maxPerUser: 1 } });
    const first = await server.mint("busy", { personaType: "support", clientId: "tab-1" });
    expect(first.status).toBe(200);
    const { sessionToken } = (await first.json()) as { sessionToken: string };
    // The one lease is taken: the other tabs are refused for it, again and again.
    for (let i = 0; i < 4; i++) {
      const refused = await server.mint("busy", { personaType: "support", clientId: `tab-${i + 2}` });
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { type: string }).type).toBe("urn:tollgate:error:session_limit");
    }
    // The session ends and frees the lease; the user still has the second of two tokens an hour.
    expect((await server.report("busy", sessionToken, "ended", { durationMs: 1_000 })).status).toBe(204);
    expect((await server.mint("busy", { personaType: "support", clientId: "tab-9" })).status).toBe(200);
    // And that one was the last: the two tokens handed out are what counted.
    const third = await server.mint("busy", { personaType: "support", clientId: "tab-10" });
    expect(((await third.json()) as { type: string }).type).toBe("urn:tollgate:error:rate_limited");
  });
});
