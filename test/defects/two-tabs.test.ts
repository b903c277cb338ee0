/** Two tabs of one user, each with its own `clientId`: reuse is scoped by tab, over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAll, gateway, tokenOf, type Gateway } from "./support.ts";

let server: Gateway;
beforeAll(async () => {
  server = await gateway({ rateLimit: false });
});
afterAll(closeAll);

describe("two tabs of one user", () => {
  it("get a single-use token each, and each tab's reload gets its own unused token back", async () => {
    const tabA = await tokenOf(await server.mint("two-tabs", { personaType: "support", clientId: "tab-a" }));
    const tabB = await tokenOf(await server.mint("two-tabs", { personaType: "support", clientId: "tab-b" }));
    expect(tabB).not.toBe(tabA);
    expect(await tokenOf(await server.mint("two-tabs", { personaType: "support", clientId: "tab-a" }))).toBe(tabA);
    // Both sessions start: each tab's token is its own, so neither start is refused.
    expect((await server.report("two-tabs", tabA, "started")).status).toBe(204);
    expect((await server.report("two-tabs", tabB, "started")).status).toBe(204);
  });

  it("keeps today's behaviour without a clientId: one scope of its own", async () => {
    const first = await tokenOf(await server.mint("no-tab"));
    expect(await tokenOf(await server.mint("no-tab"))).toBe(first);
    expect(await tokenOf(await server.mint("no-tab", { personaType: "support", clientId: "tab-a" }))).not.toBe(first);
  });

  it("evicts a token reported failed, so the tab's next request gets a fresh one", async () => {
    const body = { personaType: "support", clientId: "tab-failed" };
    const refused = await tokenOf(await server.mint("failing-tab", body));
    expect((await server.report("failing-tab", refused, "failed", { reason: "the provider refused the token" })).status).toBe(204);
    const fresh = await tokenOf(await server.mint("failing-tab", body));
    expect(fresh).not.toBe(refused);
  });
});
