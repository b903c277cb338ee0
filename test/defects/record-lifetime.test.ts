/** A session that outlives its token still ends: the record lasts past the token's expiry. */
import { afterAll, describe, expect, it } from "vitest";
import { startUpstream } from "../support/servers.ts";
import { histogramValue, inMemoryTelemetry } from "../support/telemetry.ts";
import { closeAll, gateway, tokenOf } from "./support.ts";

afterAll(closeAll);

describe("a session longer than its token", () => {
  it("is ended with 204 after the token's expiry, and its duration reaches the session-duration histogram", async () => {
    const telemetry = inMemoryTelemetry();
    // Tokens that live two seconds; the session runs on past that.
    const server = await gateway({ upstream: await startUpstream({ tokenLifetimeSeconds: 2 }), rateLimit: false, meterProvider: telemetry.meterProvider, tracerProvider: telemetry.tracerProvider });
    const answer = await server.mint("long-session");
    const { expiresAt } = (await answer.clone().json()) as { expiresAt: string };
    const token = await tokenOf(answer);
    expect((await server.report("long-session", token, "started")).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(expiresAt) - Date.now()) + 300));
    expect(Date.now()).toBeGreaterThan(Date.parse(expiresAt));

    expect((await server.report("long-session", token, "ended", { durationMs: 2_500 })).status).toBe(204);
    const sessions = histogramValue((await telemetry.metrics()).get("tollgate.session.duration"));
    expect(sessions.count).toBe(1);
    expect(sessions.sum).toBeCloseTo(2.5, 5);
  });
});
