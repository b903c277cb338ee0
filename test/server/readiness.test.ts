import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createServerApp, type ServerApp } from "../../server/app.ts";
import { banner } from "../../server/banner.ts";
import { readConfig } from "../../server/config.ts";
import { sparePort } from "../support/ports.ts";
import { redisProcess } from "../support/redis-process.ts";
import { capturingLogger } from "../support/servers.ts";

// /readyz against a redis-server of this file's own on a spare port, stopped and started again
// under the running app, so the shared Redis other files use is never touched.

let port = 0;
const { start: startRedis, stop: stopRedis } = redisProcess(() => port);

let app: ServerApp;
const logger = capturingLogger();
const prefix = `readyz-${crypto.randomUUID().slice(0, 8)}`;
const readyz = () => app.fetch(new Request("http://tollgate.test/readyz"));

beforeAll(async () => {
  port = await sparePort();
  await startRedis();
  app = await createServerApp(readConfig({ TOLLGATE_STORE: `redis://127.0.0.1:${port}`, TOLLGATE_STORE_PREFIX: prefix }), logger);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await stopRedis();
});

describe("GET /readyz", () => {
  it("answers 200 while the store answers, 503 while it is down, and 200 again once it is back, without a restart", async () => {
    const up = await readyz();
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: "ready", store: "redis" });

    await stopRedis();
    await vi.waitFor(async () => expect((await readyz()).status).toBe(503), { timeout: 10_000, interval: 100 });
    const down = await readyz();
    expect(down.headers.get("content-type")).toBe("application/problem+json");
    expect(down.headers.get("retry-after")).toBe("5");
    expect(((await down.json()) as { type: string }).type).toBe("urn:tollgate:error:store_unavailable");
    // Alive all the same: a restart would not bring Redis back.
    expect((await app.fetch(new Request("http://tollgate.test/healthz"))).status).toBe(200);

    await startRedis();
    await vi.waitFor(async () => expect((await readyz()).status).toBe(200), { timeout: 15_000, interval: 200 });
  }, 40_000);

  it("writes one line when the store goes down and one when it is back, however many probes ask meanwhile", async () => {
    expect((await readyz()).status).toBe(200);
    const before = logger.lines.length;
    await stopRedis();
    await vi.waitFor(async () => expect((await readyz()).status).toBe(503), { timeout: 10_000, interval: 100 });
    for (let i = 0; i < 5; i++) expect((await readyz()).status).toBe(503);
    await startRedis();
    await vi.waitFor(async () => expect((await readyz()).status).toBe(200), { timeout: 15_000, interval: 200 });
    for (let i = 0; i < 5; i++) expect((await readyz()).status).toBe(200);

    const lines = logger.lines.slice(before).map((line) => JSON.parse(line) as { level: string; message: string; cause?: string });
    expect(lines.map((line) => `${line.level}: ${line.message}`)).toEqual([
      "error: The shared store does not answer; GET /readyz answers 503 until it does",
      "info: The shared store answers again; GET /readyz answers 200",
    ]);
    expect(lines[0]!.cause).toMatch(/\S/);
  }, 40_000);

  it("is in the start-up banner: what the store answered, without credentials", async () => {
    const config = readConfig({ TOLLGATE_STORE: `redis://default:s3cret-pass@127.0.0.1:${port}`, TOLLGATE_STORE_PREFIX: prefix });
    const facts = { origin: "http://localhost:8787", config, app, telemetry: { mode: "off" as const, summary: "off", prometheusText: undefined, metricsPort: undefined } };
    const found = banner({ ...facts, store: await app.checkStore() }).join("\n");
    expect(found).toMatch(new RegExp(`store: redis at redis://127\\.0\\.0\\.1:${port}, prefix "${prefix}": answered in \\d+ ms`));
    const missing = banner({ ...facts, store: { ready: false, reason: "Error: connect ECONNREFUSED 127.0.0.1:1" } }).join("\n");
    expect(missing).toContain("did not answer (Error: connect ECONNREFUSED 127.0.0.1:1); GET /readyz answers 503 until it does");
    expect(found + missing).not.toContain("s3cret-pass");
  });
});
