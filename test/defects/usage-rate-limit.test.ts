/** The usage route has a rate limit of its own, per user: 429 with Retry-After past it. */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { clearOfWindowEdge } from "../support/windows.ts";
import { closeAll, gateway, tokenOf } from "./support.ts";

afterAll(closeAll);

async function reportsUntilRefused(send: () => Promise<Response>, most: number): Promise<{ accepted: number; refusal?: Response }> {
  for (let accepted = 0; accepted < most; accepted++) {
    const response = await send();
    if (response.status === 429) return { accepted, refusal: response };
    expect(response.status).toBe(204);
  }
  return { accepted: most };
}

describe("the usage route's rate limit", () => {
  // Both limits here are a minute long.
  beforeEach(() => clearOfWindowEdge(60_000));

  it("by default takes 60 reports a minute from one user, then answers 429 with Retry-After; other users are not held up", async () => {
    const server = await gateway({ rateLimit: false });
    const token = await tokenOf(await server.mint("chatty"));
    const { accepted, refusal } = await reportsUntilRefused(() => server.report("chatty", token, "started"), 200);
    expect(accepted).toBe(60);
    expect(refusal).toBeDefined();
    const body = (await refusal!.json()) as { type: string };
    expect(body.type).toBe("urn:tollgate:error:rate_limited");
    const retryAfter = Number(refusal!.headers.get("Retry-After"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);

    const other = await tokenOf(await server.mint("quiet"));
    expect((await server.report("quiet", other, "started")).status).toBe(204);
  });

  it("takes its own limit, and none with false", async () => {
    const tight = await gateway({ rateLimit: false, usageRateLimit: "3/1m" });
    const token = await tokenOf(await tight.mint("tight"));
    expect((await reportsUntilRefused(() => tight.report("tight", token, "started"), 10)).accepted).toBe(3);

    const open = await gateway({ rateLimit: false, usageRateLimit: false });
    const free = await tokenOf(await open.mint("free"));
    expect((await reportsUntilRefused(() => open.report("free", free, "started"), 100)).accepted).toBe(100);
  });

  it("refuses a limit it cannot read when the handler is made, naming the option", async () => {
    await expect(gateway({ usageRateLimit: "lots" })).rejects.toThrow(/usageRateLimit/);
  });
});
