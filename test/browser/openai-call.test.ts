import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LifecycleEvent } from "../../src/index.ts";
import { createOpenAIEmulator, openai, type OpenAIEmulator } from "../../src/providers/openai/index.ts";
import { TEST_API_KEY, closeAll, listen } from "../support/servers.ts";
import { PAGE_USER_BEARER, launchChromium, loopbackContext, openTab, pageBundle, scriptPage, tokenRouteFor } from "./support.ts";

// tollgate/client/openai in Debian's Chromium: the page, on an origin of its own, gets a client
// secret from the token handler on another, makes its WebRTC offer with the browser's own
// RTCPeerConnection, and posts it to the OpenAI emulator on a third, as a page posts it to
// api.openai.com. The emulator's answer is one the browser accepts; no media flows. Each case
// checks what the page sent and what the handler heard back.

let emulator: OpenAIEmulator;
let emulatorUrl: string;
let tokenUrl: string;
let page: { url: string; close(): Promise<void> };
let browser: Browser;
let context: BrowserContext;
const events: LifecycleEvent[] = [];
/** Calls whose secret is swapped for one the emulator never issued, so that it refuses them as OpenAI refuses a dead secret. */
let callsToRefuse = 0;

beforeAll(async () => {
  emulator = createOpenAIEmulator({ apiKey: TEST_API_KEY });
  emulatorUrl = (
    await listen("openai-emulator", async (request) => {
      if (request.method === "POST" && new URL(request.url).pathname === "/v1/realtime/calls" && callsToRefuse > 0) {
        callsToRefuse--;
        const headers = new Headers(request.headers);
        headers.set("Authorization", "Bearer ek_no_longer_live");
        return emulator.fetch(new Request(request.url, { method: "POST", headers, body: await request.text() }));
      }
      return emulator.fetch(request);
    })
  ).url;

  page = await scriptPage(await pageBundle('export { createTollgateClient } from "./src/client/index.ts"; export { startOpenAICall } from "./src/client/openai.ts";'));

  const profiles = { voice: { provider: openai({ apiKey: TEST_API_KEY, baseUrl: emulatorUrl }), config: { session: { type: "realtime", model: "gpt-realtime" } } } };
  tokenUrl = await tokenRouteFor("openai-tokens", profiles, page.url, events);
  browser = await launchChromium();
  context = await loopbackContext(browser);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await page?.close();
  await closeAll();
});

interface CallResult {
  callId?: string;
  token?: string;
  connectionState?: string;
  error?: string;
}

/** Starts a call in the page and leaves it in `globalThis.call`. */
function startCall(tab: Page): Promise<CallResult> {
  return tab.evaluate(
    async ({ tokenUrl, emulatorUrl, bearer }) => {
      type Hook = typeof import("../../src/client/openai.ts") & typeof import("../../src/client/index.ts");
      const { createTollgateClient, startOpenAICall } = (globalThis as unknown as { tollgate: Hook }).tollgate;
      const client = createTollgateClient({ url: tokenUrl, headers: () => ({ Authorization: bearer }) });
      try {
        const call = await startOpenAICall(client, "voice", { baseUrl: emulatorUrl });
        (globalThis as unknown as { call: typeof call }).call = call;
        return { callId: call.callId, token: call.token.token, connectionState: call.peerConnection.connectionState };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { tokenUrl, emulatorUrl, bearer: PAGE_USER_BEARER },
  );
}

const named = (name: string) => events.filter((event) => event.name === name);

describe("an OpenAI Realtime call from Chromium", () => {
  it("sends the browser's own offer with the client secret, is reported started with the call's id, and ended on stop()", async () => {
    events.length = 0;
    const startedBefore = emulator.stats.sessionsStarted;
    const tab = await openTab(context, page.url);
    const result = await startCall(tab);
    expect(result.error).toBeUndefined();
    expect(result.token).toMatch(/^ek_/);
    // The browser read the call's id from the Location header across origins.
    expect(result.callId).toMatch(/^rtc_[0-9a-f]{24}$/);
    expect(emulator.stats.sessionsStarted - startedBefore).toBe(1);
    // The browser took the emulator's answer: the connection went on past `new`, to look for its peer.
    expect(result.connectionState).not.toBe("closed");
    await vi.waitFor(() => expect(named("started")).toHaveLength(1));

    await tab.evaluate(() => (globalThis as unknown as { call: { stop(): void } }).call.stop());
    await vi.waitFor(() => expect(named("ended")).toHaveLength(1));
    await tab.close();
  });

  it("reports a secret OpenAI refuses as failed, and calls again with a fresh one", async () => {
    events.length = 0;
    callsToRefuse = 1;
    const tab = await openTab(context, page.url);
    const result = await startCall(tab);
    expect(result.error).toBeUndefined();
    expect(result.callId).toMatch(/^rtc_/);
    expect(callsToRefuse).toBe(0);
    // The refused secret was reported failed, so the handler minted another instead of handing it out again.
    await vi.waitFor(() => expect(named("session_failed")).toHaveLength(1));
    expect(named("minted").length).toBeGreaterThanOrEqual(1);
    await vi.waitFor(() => expect(named("started")).toHaveLength(1));
    await tab.close();
  });
});
