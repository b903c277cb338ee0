/**
 * A store that is down is logged at its first failure, then at most once an interval with how
 * many failures there were since, rather than a line or two per request: every line written is
 * counted, not only the store's. The store is the Redis adapter pointed at a loopback port where
 * nothing listens. The interval is a minute, far longer than the requests take; the clock is then
 * moved past it (Date alone, so that timers and sockets run as they do) for the line that counts.
 */
import { createServer, type AddressInfo } from "node:net";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { closeAll, gateway, personasFile, standaloneServer } from "./support.ts";

const INTERVAL_MS = 60_000;
const stores: Array<{ close(): Promise<void> }> = [];
afterEach(() => vi.useRealTimers());
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

type Line = { message: string; failures?: number; level: string };
const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line) as Line);
const STORE_FAILED = /^(rate-limit|token) store failed$/;
const SINCE = /^(rate-limit|token) store failed: (\d+) more failures since the last line$/;

/** The clock moved past the interval, for the next failure to write its count. */
function pastTheInterval() {
  vi.setSystemTime(Date.now() + INTERVAL_MS + 1_000);
}

describe("a store outage in the log", () => {
  it("under the memory policy is one line per store for twenty requests, then one saying how many more since", async () => {
    const server = await gateway({ store: await deadStore(), onStoreError: "memory", storeFailureLogIntervalMs: INTERVAL_MS });
    for (let i = 0; i < 20; i++) expect((await server.mint(`outage-${i}`)).status).toBe(200);
    const first = parsed(server.logger.lines);
    expect(first.map((line) => line.message).sort()).toEqual(["rate-limit store failed", "token store failed"]);

    pastTheInterval();
    expect((await server.mint("outage-later")).status).toBe(200);
    const later = parsed(server.logger.lines).slice(first.length);
    expect(later.map((line) => line.message.replace(/\d+/, "N")).sort()).toEqual([
      "rate-limit store failed: N more failures since the last line",
      "token store failed: N more failures since the last line",
    ]);
    for (const line of later) expect(line.failures).toBe(Number(SINCE.exec(line.message)![2]));
    // The first of the twenty had its own line; the line that counts is written by the next failure.
    expect(later.find((line) => line.message.startsWith("rate-limit"))!.failures).toBe(19);
  });

  it("under the closed policy is one line per store for twenty 503s, and no line of its own per request", async () => {
    const server = await gateway({ store: await deadStore(), storeFailureLogIntervalMs: INTERVAL_MS });
    for (let i = 0; i < 20; i++) expect((await server.mint(`closed-${i}`)).status).toBe(503);
    // The rate limits and the cache read are asked together, so each store may fail once in the log.
    const first = parsed(server.logger.lines);
    expect(first.length).toBeGreaterThanOrEqual(1);
    expect(first.length).toBeLessThanOrEqual(2);
    for (const line of first) expect(line.message).toMatch(STORE_FAILED);
    expect(new Set(first.map((line) => line.message)).size).toBe(first.length);

    pastTheInterval();
    expect((await server.mint("closed-later")).status).toBe(503);
    const later = parsed(server.logger.lines).slice(first.length);
    expect(later.length).toBeGreaterThanOrEqual(1);
    expect(later.length).toBeLessThanOrEqual(2);
    for (const line of later) expect(line.message).toMatch(SINCE);
  });

  it("in the standalone server is the store's lines alone for twenty 503s: no request line beside them", async () => {
    const server = await standaloneServer("store-outage-log", { TOLLGATE_STORE: `redis://127.0.0.1:${await deadPort()}`, TOLLGATE_PERSONAS: personasFile() });
    try {
      const token = /Bearer ([\w.-]+)"/.exec(server.output.join("\n"))![1]!;
      const banner = server.output.length;
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`${server.origin}/api/session-token`, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ personaType: "support" }),
        });
        expect(response.status).toBe(503);
      }
      const lines = server.output.slice(banner);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(2);
      for (const line of parsed(lines)) expect(line.message).toMatch(STORE_FAILED);
    } finally {
      await server.stop();
    }
  });
});
