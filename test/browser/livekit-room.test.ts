import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LifecycleEvent } from "../../src/index.ts";
import { createLiveKitEmulator, livekit, type LiveKitEmulator } from "../../src/providers/livekit/index.ts";
import { closeAll, listen } from "../support/servers.ts";
import { PAGE_USER_BEARER, launchChromium, loopbackContext, openTab, pageBundle, scriptPage, tokenRouteFor } from "./support.ts";

// tollgate/client/livekit in Debian's Chromium with the real livekit-client: the page, on an origin
// of its own, gets a room token from the token handler on another and joins with livekit-client's
// own Room at the `serverUrl` the answer names, the LiveKit emulator on a third. The emulator has
// no signalling socket, so every join ends at the token check that livekit-client makes when its
// socket fails (`/rtc/v1/validate`): a token the server refuses there is a 401 to livekit-client,
// which the hook reports failed and retries once with a fresh token; a token it accepts is an
// error of another kind, which is no refusal.

const API_KEY = "APIbrowser";
const API_SECRET = "livekit-browser-secret-that-is-long-enough";

let emulator: LiveKitEmulator;
let emulatorUrl: string;
let tokenUrl: string;
let page: { url: string; close(): Promise<void> };
let browser: Browser;
let context: BrowserContext;
const events: LifecycleEvent[] = [];
/** The paths livekit-client asked the emulator for, in order. */
const asked: string[] = [];

beforeAll(async () => {
  emulator = createLiveKitEmulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  emulatorUrl = (
    await listen("livekit-emulator", (request) => {
      asked.push(new URL(request.url).pathname);
      return emulator.fetch(request);
    })
  ).url;

  page = await scriptPage(await pageBundle('export { Room } from "livekit-client"; export { createTollgateClient } from "./src/client/index.ts"; export { connectLiveKitRoom } from "./src/client/livekit.ts";'));

  const serverUrl = emulatorUrl.replace(/^http/, "ws");
  const profiles = {
    standup: { provider: livekit({ apiKey: API_KEY, apiSecret: API_SECRET, url: serverUrl }), config: { room: "standup" } },
    // Signed with a secret the server does not hold, as after a rotation: every token is refused.
    rotated: { provider: livekit({ apiKey: API_KEY, apiSecret: "a-secret-the-server-no-longer-holds-0123", url: serverUrl }), config: { room: "standup" } },
  };
  tokenUrl = await tokenRouteFor("livekit-tokens", profiles, page.url, events);
  browser = await launchChromium();
  context = await loopbackContext(browser);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await page?.close();
  await closeAll();
});

interface JoinResult {
  error?: { name: string; message: string; reason?: number; reasonName?: string; status?: number };
}

/** Joins `profile`'s room in a fresh page, with livekit-client's own Room. */
async function join(profile: string): Promise<{ tab: Page; result: JoinResult }> {
  const tab = await openTab(context, page.url);
  const result = await tab.evaluate(
    async ({ tokenUrl, profile, bearer }) => {
      type Bundle = typeof import("../../src/client/livekit.ts") & typeof import("../../src/client/index.ts") & { Room: typeof import("livekit-client").Room };
      const { Room, createTollgateClient, connectLiveKitRoom } = (globalThis as unknown as { tollgate: Bundle }).tollgate;
      const client = createTollgateClient({ url: tokenUrl, headers: () => ({ Authorization: bearer }) });
      try {
        await connectLiveKitRoom(client, profile, new Room(), { maxRetries: 0 });
        return {};
      } catch (error) {
        const { name, message, reason, reasonName, status } = error as { name: string; message: string; reason?: number; reasonName?: string; status?: number };
        return { error: { name, message, reason, reasonName, status } };
      }
    },
    { tokenUrl, profile, bearer: PAGE_USER_BEARER },
  );
  return { tab, result };
}

const named = (name: string) => events.filter((event) => event.name === name);

describe("a LiveKit room joined from Chromium with livekit-client", () => {
  it("reports a token the server refuses as failed, tries once more with a fresh one, then gives the app livekit-client's error", async () => {
    events.length = 0;
    asked.length = 0;
    const { tab, result } = await join("rotated");
    // Room.connect rethrows the signal client's NotAllowed as a ServerUnreachable that keeps the
    // reason (0, NotAllowed) and the status but not the reasonName: the status is what tells.
    expect(result.error).toMatchObject({ name: "ConnectionError", reason: 0, status: 401 });
    // livekit-client asked the server to check each token after its socket failed, at the path 2.x uses.
    expect(asked.filter((path) => path === "/rtc/v1/validate")).toHaveLength(2);
    await vi.waitFor(() => expect(named("session_failed")).toHaveLength(2));
    // Each refused token was evicted, so the retry was minted afresh, not handed out again.
    expect(named("minted")).toHaveLength(2);
    // livekit-client says `disconnected` for a join it never made: no session started or ended.
    expect(named("started")).toEqual([]);
    expect(named("ended")).toEqual([]);
    await tab.close();
  });

  it("passes on, without a report, a join that fails for another reason than its token", async () => {
    events.length = 0;
    asked.length = 0;
    const checked = emulator.stats.sessionsStarted;
    const { tab, result } = await join("standup");
    expect(result.error).toMatchObject({ name: "ConnectionError" });
    expect(result.error!.reason).not.toBe(0);
    expect(result.error!.status).toBeUndefined();
    // The server's check took the token: the join failed only for want of a signalling socket.
    expect(emulator.stats.sessionsStarted - checked).toBe(1);
    expect(named("minted")).toHaveLength(1);
    expect(named("session_failed")).toEqual([]);
    expect(named("ended")).toEqual([]);
    await tab.close();
  });
});
