import { build } from "esbuild";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { serve } from "srvx";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTokenHandler, type LifecycleEvent } from "../../src/index.ts";
import { createOpenAIEmulator, openai, type OpenAIEmulator } from "../../src/providers/openai/index.ts";
import { TEST_API_KEY, closeAll, listen } from "../support/servers.ts";
import { launchChromium, loopbackContext } from "./support.ts";

// tollgate/client/openai in Debian's Chromium: the page, on an origin of its own, gets a client
// secret from the token handler on another, makes its WebRTC offer with the browser's own
// RTCPeerConnection, and posts it to the OpenAI emulator on a third, as a page posts it to
// api.openai.com. The emulator's answer is one the browser accepts; no media flows. Each case
// checks what the page sent and what the handler heard back.

const ROOT = new URL("../..", import.meta.url).pathname;

let emulator: OpenAIEmulator;
let emulatorUrl: string;
let tokenUrl: string;
let page: { url: string; close(): Promise<void> };
let browser: Browser;
let context: BrowserContext;
const events: LifecycleEvent[] = [];
/** Calls whose secret is swapped for one the emulator never issued, so that it refuses them as OpenAI refuses a dead secret. */
let callsToRefuse = 0;

/** tollgate/client and its OpenAI hook, bundled for the page as an app's bundler would. */
async function pageScript(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `export { createTollgateClient } from "./src/client/index.ts"; export { startOpenAICall } from "./src/client/openai.ts";`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "iife",
    globalName: "tollgate",
    platform: "browser",
    write: false,
  });
  return result.outputFiles[0]!.text;
}

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

  const script = await pageScript();
  const pageServer = serve({
    port: 0,
    hostname: "127.0.0.1",
    silent: true,
    gracefulShutdown: false,
    fetch: (request) =>
      new URL(request.url).pathname === "/call.js"
        ? new Response(script, { headers: { "Content-Type": "text/javascript" } })
        : new Response('<!doctype html><meta charset="utf-8"><title>call</title><script src="/call.js"></script>', { headers: { "Content-Type": "text/html" } }),
  });
  await pageServer.ready();
  page = { url: pageServer.url!.replace(/\/$/, ""), close: () => pageServer.close(true) };

  const handler = createTokenHandler({
    profiles: { voice: { provider: openai({ apiKey: TEST_API_KEY, baseUrl: emulatorUrl }), config: { session: { type: "realtime", model: "gpt-realtime" } } } },
    authenticate: (request) => (request.headers.get("Authorization") === "Bearer page-user" ? { id: "page-user" } : null),
    cors: { origins: [page.url] },
    onEvent: (event) => events.push(event),
  });
  tokenUrl = `${(await listen("openai-tokens", handler)).url}/api/session-token`;
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

async function openPage(): Promise<Page> {
  const tab = await context.newPage();
  await tab.goto(`${page.url}/`);
  await tab.waitForFunction(() => "tollgate" in globalThis);
  return tab;
}

/** Starts a call in the page and leaves it in `globalThis.call`. */
function startCall(tab: Page): Promise<CallResult> {
  return tab.evaluate(
    async ({ tokenUrl, emulatorUrl }) => {
      type Hook = typeof import("../../src/client/openai.ts") & typeof import("../../src/client/index.ts");
      const { createTollgateClient, startOpenAICall } = (globalThis as unknown as { tollgate: Hook }).tollgate;
      const client = createTollgateClient({ url: tokenUrl, headers: () => ({ Authorization: "Bearer page-user" }) });
      try {
        const call = await startOpenAICall(client, "voice", { baseUrl: emulatorUrl });
        (globalThis as unknown as { call: typeof call }).call = call;
        return { callId: call.callId, token: call.token.token, connectionState: call.peerConnection.connectionState };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { tokenUrl, emulatorUrl },
  );
}

const named = (name: string) => events.filter((event) => event.name === name);

describe("an OpenAI Realtime call from Chromium", () => {
  it("sends the browser's own offer with the client secret, is reported started with the call's id, and ended on stop()", async () => {
    events.length = 0;
    const startedBefore = emulator.stats.sessionsStarted;
    const tab = await openPage();
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
    const tab = await openPage();
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
