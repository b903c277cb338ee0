/**
 * Single-flight is per process: two standalone servers on one Redis can each mint a token for the
 * same key at the same moment. Neither token may be lost: every token handed out is known to the
 * store and can be reported. (Making the flight fleet-wide is another change.)
 */
import { Agent, request } from "node:http";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { personasFile, randomSecret, standaloneServer, userJwt, type StandaloneServer } from "./support.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `tollgate-flight-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
const secret = randomSecret();
const redis = new Redis(REDIS_URL, { lazyConnect: true });
let servers: StandaloneServer[] = [];

beforeAll(async () => {
  await redis.connect();
  const env = { TOLLGATE_JWT_SECRET: secret, TOLLGATE_STORE: REDIS_URL, TOLLGATE_STORE_PREFIX: prefix, TOLLGATE_RATE_LIMIT: "5000/1h", TOLLGATE_PERSONAS: personasFile() };
  servers = await Promise.all([standaloneServer("flight-a", env), standaloneServer("flight-b", env)]);
}, 30_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}, 20_000);

// All 1 000 requests are sent at once; the agent holds at most 50 connections to each server, so
// that a machine busy with other work still answers each one within the store's timeout.
const agent = new Agent({ keepAlive: true, maxSockets: 50 });
afterAll(() => agent.destroy());

function post(origin: string, path: string, userToken: string, body: unknown): Promise<Response> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = request(`${origin}${path}`, { method: "POST", agent, headers: { Authorization: `Bearer ${userToken}`, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) } }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => resolve(new Response(incoming.statusCode === 204 ? null : Buffer.concat(chunks), { status: incoming.statusCode! })));
      incoming.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(text);
  });
}

describe("two servers on one Redis, 1 000 concurrent requests for one key", () => {
  it("hand out only tokens that the store knows: every distinct one is accepted as started", async () => {
    const user = await userJwt(secret, "one-key-user");
    const responses = await Promise.all(Array.from({ length: 1_000 }, (_, i) => post(servers[i % 2]!.origin, "/api/session-token", user, { personaType: "support" })));
    const tokens = new Set<string>();
    for (const response of responses) {
      const text = await response.text();
      expect(response.status, text).toBe(200);
      const answer = JSON.parse(text) as { token?: string; sessionToken?: string };
      tokens.add((answer.token ?? answer.sessionToken)!);
    }
    expect(tokens.size).toBeGreaterThanOrEqual(1);
    // Each token is reported to the server that did not mint it as often as not: the record is the fleet's.
    let i = 0;
    for (const token of tokens) {
      const report = await post(servers[i++ % 2]!.origin, "/api/session-token/usage", user, { sessionToken: token, event: "started" });
      expect(report.status, `token ${i} of ${tokens.size}`).toBe(204);
    }
    // And once started, none of them is handed out again.
    const after = (await (await post(servers[0]!.origin, "/api/session-token", user, { personaType: "support" })).json()) as { token?: string; sessionToken?: string };
    expect(tokens.has((after.token ?? after.sessionToken)!)).toBe(false);
  }, 60_000);
});
