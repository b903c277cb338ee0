import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LifecycleEvent } from "../../src/index.ts";
import { deepgram } from "../../src/providers/deepgram/index.ts";
import { closeAll } from "../support/servers.ts";
import { PAGE_USER_BEARER, launchChromium, loopbackContext, pageBundle, scriptPage, tokenRouteFor, type RouteCall } from "./support.ts";

// tollgate/client's rules where the browser is what matters: a page on an origin of its own, the
// token handler on another, so that the page reads only the headers the server exposes to it, and
// the page's own clock, its `pagehide` and its unhandled rejections are Chromium's.

const GRANT_SECONDS = 30;
/** The page's clock runs this far ahead of the server's: more than a grant's whole life. */
const SKEW_MS = 40_000;

let page: { url: string; close(): Promise<void> };
let tokenUrl: string;
let browser: Browser;
let context: BrowserContext;
const events: LifecycleEvent[] = [];
const calls: RouteCall[] = [];

beforeAll(async () => {
  page = await scriptPage(await pageBundle('export { createTollgateClient } from "./src/client/index.ts";'));
  const profiles = { grant: { provider: deepgram.emulated(), config: { ttlSeconds: GRANT_SECONDS } } };
  // One user for every case, with room for all the tokens they ask for.
  tokenUrl = await tokenRouteFor("client-rules-tokens", profiles, page.url, events, { calls, rateLimit: { limits: [{ name: "user", limit: 1_000, windowMs: 3_600_000 }] } });
  browser = await launchChromium();
  context = await loopbackContext(browser);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await page?.close();
  await closeAll();
});

/** A new tab on the page, its clock `skewMs` ahead of the server's. */
async function openTab(skewMs = 0): Promise<Page> {
  const tab = await context.newPage();
  if (skewMs) {
    await tab.addInitScript((skew) => {
      const realNow = Date.now;
      Date.now = () => realNow() + skew;
    }, skewMs);
  }
  await tab.goto(`${page.url}/`);
  await tab.waitForFunction(() => "tollgate" in globalThis);
  return tab;
}

type Bundle = typeof import("../../src/client/index.ts");
interface PageGlobals {
  tollgate: Bundle;
  client: import("../../src/client/index.ts").TollgateClient;
  rejections: string[];
  signedOut: boolean;
}

/** Makes the tab's client; with `hideDate`, its fetch drops `Date`, as a server that does not expose it would leave a page. */
async function makeClient(tab: Page, hideDate = false): Promise<string> {
  return tab.evaluate(
    ({ tokenUrl, bearer, hideDate }) => {
      const globals = globalThis as unknown as PageGlobals;
      globals.rejections = [];
      addEventListener("unhandledrejection", (event) => globals.rejections.push(String(event.reason)));
      globals.signedOut = false;
      globals.client = globals.tollgate.createTollgateClient({
        url: tokenUrl,
        // Async, as a sign-in library's getter is; it throws once the user is signed out.
        headers: async () => {
          if (globals.signedOut) throw new Error("signed out");
          return { Authorization: bearer };
        },
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if (!hideDate) return response;
          const headers = new Headers(response.headers);
          headers.delete("Date");
          return new Response(response.body, { status: response.status, headers });
        },
      });
      return globals.client.clientId;
    },
    { tokenUrl, bearer: PAGE_USER_BEARER, hideDate },
  );
}

const tokenCallsOf = (clientId: string) => calls.filter((call) => call.path === "/api/session-token" && call.body?.clientId === clientId);
const reportsOn = (token: unknown) => calls.filter((call) => call.path === "/api/session-token/usage" && call.body?.token === token).map((call) => call.body!);
/** Lets the page run for `ms`, as a user who has not clicked yet. */
const idle = (tab: Page, ms: number) => tab.evaluate((ms) => new Promise((resolve) => setTimeout(resolve, ms)), ms);

describe("tollgate/client in Chromium", () => {
  it("keeps a prefetched token for its real life when the page's clock is ahead of the server's by more than that life", async () => {
    const tab = await openTab(SKEW_MS);
    const clientId = await makeClient(tab);
    await tab.evaluate(() => (globalThis as unknown as PageGlobals).client.prefetch("grant"));
    await vi.waitFor(() => expect(tokenCallsOf(clientId)).toHaveLength(1));
    await idle(tab, 2_000);
    // The server's Date, exposed across origins, gave the grant's life: no refresh yet, and the
    // click takes the prefetched grant without asking again.
    expect(tokenCallsOf(clientId)).toHaveLength(1);
    const taken = await tab.evaluate(async () => (await (globalThis as unknown as PageGlobals).client.getToken("grant")).token);
    expect(tokenCallsOf(clientId)).toHaveLength(1);
    expect(taken).toBe(tokenCallsOf(clientId)[0]!.answer!.token);
    await tab.close();
  });

  it("spaces its refreshes by a growing floor when it cannot read the server's clock, rather than ask in a loop", async () => {
    const tab = await openTab(SKEW_MS);
    const clientId = await makeClient(tab, true);
    await tab.evaluate(() => (globalThis as unknown as PageGlobals).client.prefetch("grant"));
    await vi.waitFor(() => expect(tokenCallsOf(clientId)).toHaveLength(1));
    // By the page's clock every grant has expired when it arrives; refreshed after 1 s, then 2 s, ...
    await idle(tab, 2_500);
    expect(tokenCallsOf(clientId).length).toBeGreaterThan(1);
    expect(tokenCallsOf(clientId).length).toBeLessThanOrEqual(3);
    await tab.close();
  });

  it("reports an unused prefetched token discarded when the page goes away", async () => {
    const tab = await openTab();
    const clientId = await makeClient(tab);
    await tab.evaluate(() => (globalThis as unknown as PageGlobals).client.prefetch("grant"));
    const token = await vi.waitFor(() => {
      const [call] = tokenCallsOf(clientId);
      expect(call?.answer?.token).toBeDefined();
      return call!.answer!.token;
    });
    await tab.close({ runBeforeUnload: true });
    await vi.waitFor(() => expect(reportsOn(token)).toEqual([{ token, event: "discarded" }]), { timeout: 10_000 });
  });

  it("reports ended at pagehide without an unhandled rejection when the async header getter rejects", async () => {
    const tab = await openTab();
    await makeClient(tab);
    const token = await tab.evaluate(async () => {
      const globals = globalThis as unknown as PageGlobals;
      const answer = await globals.client.getToken("grant");
      globals.client.track(answer).started("session-at-pagehide");
      globals.signedOut = true;
      // As the browser does when the page goes away; the page stays, so that its rejections can be read.
      dispatchEvent(new PageTransitionEvent("pagehide"));
      return answer.token;
    });
    // Sent with the headers last resolved, since the getter could not be waited for.
    await vi.waitFor(() => expect(reportsOn(token).map((report) => report.event)).toEqual(expect.arrayContaining(["started", "ended"])));
    expect(reportsOn(token).find((report) => report.event === "ended")).toMatchObject({ reason: "pagehide", sessionId: "session-at-pagehide" });
    await idle(tab, 50);
    expect(await tab.evaluate(() => (globalThis as unknown as PageGlobals).rejections)).toEqual([]);
    await tab.close();
  });
});
