import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DenoKvContentionError } from "../adapters/deno-kv.ts";
import { redisStore } from "../adapters/redis.ts";
import type { CacheStore } from "../src/store/types.ts";
import { createTokenHandler, problemType } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { PERSONAS, asUser, authenticate } from "./support/personas.ts";
import { sparePort } from "./support/ports.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";

// The token cache on a Redis that does not answer: the store failure policy decides, and a store
// failure is never answered as a miss, a 404 or a 429.

let upstream: Upstream;
let deadRedisUrl: string;
const stores: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  upstream = await startUpstream();
  // Nothing listens on a spare port, so every connection is refused.
  deadRedisUrl = `redis://127.0.0.1:${await sparePort()}`;
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await closeAll();
});

async function serverWith(onStoreError: "closed" | "open" | "memory") {
  const store = redisStore({ url: deadRedisUrl, commandTimeoutMs: 200 });
  stores.push(store);
  const logger = capturingLogger();
  const handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
    authenticate,
    personas: PERSONAS,
    store,
    rateLimit: false,
    onStoreError,
    logger,
  });
  return { url: (await listen(`handler-store-${onStoreError}`, handler)).url + "/api/session-token", logger };
}

describe("a token store that is down", () => {
  it("answers 503 store_unavailable with Retry-After by default, and makes no upstream call", async () => {
    const { url, logger } = await serverWith("closed");
    const before = upstream.emulator.stats.mintRequests;
    const response = await fetch(url, asUser("alice"));
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(((await response.json()) as { type: string }).type).toBe(problemType("store_unavailable"));
    expect(upstream.emulator.stats.mintRequests).toBe(before);
    expect(logger.lines.join("\n")).toMatch(/token store failed/);
  });

  it.each(["memory", "open"] as const)("keeps serving from this process's memory under %s, reuse and usage reports included", async (policy) => {
    const { url } = await serverWith(policy);
    const first = await fetch(url, asUser("bob"));
    expect(first.status).toBe(200);
    const { sessionToken } = (await first.json()) as { sessionToken: string };
    const again = (await (await fetch(url, asUser("bob"))).json()) as { sessionToken: string };
    expect(again.sessionToken).toBe(sessionToken);

    const report = await fetch(`${url}/usage`, asUser("bob", { sessionToken, event: "started" }));
    expect(report.status).toBe(204);
    const fresh = (await (await fetch(url, asUser("bob"))).json()) as { sessionToken: string };
    expect(fresh.sessionToken).not.toBe(sessionToken);
  });

  it("takes a store's own store_unavailable (Deno KV out of attempts) as a failure of the store, which the memory policy rides out", async () => {
    const contended = () => Promise.reject(new DenoKvContentionError(16));
    const store: CacheStore = { get: contended, set: contended, delete: contended };
    const logger = capturingLogger();
    const handler = createTokenHandler({ provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }), authenticate, personas: PERSONAS, store, rateLimit: false, onStoreError: "memory", logger });
    const url = (await listen("handler-store-contended", handler)).url + "/api/session-token";
    const first = await fetch(url, asUser("alice"));
    expect(first.status).toBe(200);
    const { sessionToken } = (await first.json()) as { sessionToken: string };
    expect((await fetch(`${url}/usage`, asUser("alice", { sessionToken, event: "started" }))).status).toBe(204);
    expect(logger.lines.join("\n")).toMatch(/token store failed.*gave up after 16 attempts/);
  });
});