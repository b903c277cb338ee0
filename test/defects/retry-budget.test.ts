/** The retry budget's floor refills with time: after an idle spell one transient 500 gets its retry. */
import { afterAll, describe, expect, it } from "vitest";
import { closeAll, gateway, tokenOf } from "./support.ts";

afterAll(closeAll);

describe("the retry budget, over HTTP", () => {
  it("retries one transient 500 to a 200 after an idle spell, though a failing upstream had drained it", async () => {
    // A floor of one retry a second, so that draining it takes two requests and refilling it one second.
    const server = await gateway({ rateLimit: false, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, budgetMinRetries: 1 } });
    for (let i = 0; i < 20; i++) server.upstream.emulator.inject({ status: 500 });
    for (let i = 0; i < 3; i++) expect((await server.mint(`drain-${i}`)).status).toBe(503);
    server.upstream.emulator.clearFaults();

    await new Promise((resolve) => setTimeout(resolve, 1_200));
    server.upstream.emulator.inject({ status: 500 });
    const callsBefore = server.upstream.emulator.stats.mintRequests;
    await tokenOf(await server.mint("after-idle"));
    expect(server.upstream.emulator.stats.mintRequests - callsBefore).toBe(2);
  });
});
