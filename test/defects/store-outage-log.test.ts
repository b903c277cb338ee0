/**
 * A store that is down is logged at its first failure, then at most once an interval with how
 * many failures there were since, rather than a line or two per request. The store is the Redis
 * adapter pointed at a loopback port where nothing listens.
 */
import { createServer, type AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { closeAll, gateway } from "./support.ts";

const stores: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await closeAll();
  await Promise.all(stores.map((store) => store.close()));
});

/** A loopback port that refuses connections: taken, then let go. */
async function deadPort(): Promise<number> {
  const holder = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => holder.once("listening", resolve));
  const { port } = holder.address() as AddressInfo;
  await new Promise((resolve) => holder.close(resolve));
  return port;
}

async function deadStore() {
  const store = redisStore({ url: `redis://127.0.0.1:${await deadPort()}`, commandTimeoutMs: 200 });
  stores.push(store);
  return store;
}

const storeLines = (lines: string[]) => lines.map((line) => JSON.parse(line) as { message: string; failures?: number }).filter((line) => / store failed/.test(line.message));

describe("a store outage in the log", () => {
  it("is one line per store for twenty failed requests, then one line saying how many more since", async () => {
    const server = await gateway({ store: await deadStore(), onStoreError: "memory", storeFailureLogIntervalMs: 2_000 });
    for (let i = 0; i < 20; i++) expect((await server.mint(`outage-${i}`)).status).toBe(200);
    const first = storeLines(server.logger.lines);
    expect(first.map((line) => line.message).sort()).toEqual(["rate-limit store failed", "token store failed"]);

    // Twenty requests take well under the interval (or the lines above would be more); then it passes.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await server.mint("outage-later")).status).toBe(200);
    const later = storeLines(server.logger.lines).slice(2);
    expect(later.length).toBeGreaterThanOrEqual(1);
    expect(later.length).toBeLessThanOrEqual(2);
    for (const line of later) {
      expect(line.message).toMatch(/store failed: \d+ more failures since the last line$/);
      expect(line.failures).toBeGreaterThanOrEqual(19);
    }
  });

  it("under the closed policy is one line per store for twenty 503s", async () => {
    const server = await gateway({ store: await deadStore() });
    for (let i = 0; i < 20; i++) expect((await server.mint(`closed-${i}`)).status).toBe(503);
    // The rate limits and the cache read are asked together, so each store may fail once in the log.
    const messages = storeLines(server.logger.lines).map((line) => line.message);
    expect(messages.length).toBeGreaterThanOrEqual(1);
    expect(new Set(messages).size).toBe(messages.length);
  });
});
