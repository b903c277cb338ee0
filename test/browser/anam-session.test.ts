import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { spawnServer, startOtlpReceiver, userToken, type OtlpReceiver, type ServerProcess } from "../support/otel-process.ts";
import { launchChromium, loopbackContext, pageOrigin } from "./support.ts";

// The browser half of a token's life, in Debian's Chromium with the real @anam-ai/js-sdk: the
// standalone server (on its emulators, with Prometheus metrics and OTLP export) serves the demo
// page, which a second origin hands to the browser, so that every call to the token server is a
// cross-origin one. The page gets its token through tollgate/client, starts the session with the
// SDK, which redeems the token at the emulated Anam edge and opens its signalling socket, and
// reports the session's life back.

const PROFILE = "anam";

let receiver: OtlpReceiver;
let origin: { url: string; close(): Promise<void> };
let server: ServerProcess;
let browser: Browser;
let context: BrowserContext;

interface Seen {
  method: string;
  url: string;
  status: number;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  body: unknown;
}

/**
 * Every answered request of a page, with its JSON body when it had one, in the order the answers
 * came. Playwright gives the headers asynchronously, so an answer the page has already acted on
 * may not be read yet: the returned function waits for those begun, and whoever asserts on an
 * answer waits for it to be there (vi.waitFor), rather than trust that it is.
 */
function record(page: Page): () => Promise<Seen[]> {
  const reads: Array<Promise<Seen | undefined>> = [];
  page.on("response", (response) => {
    const request = response.request();
    let body: unknown;
    try {
      body = request.postDataJSON();
    } catch {
      body = request.postData();
    }
    reads.push(
      Promise.all([request.allHeaders(), response.allHeaders()]).then(
        ([requestHeaders, responseHeaders]) => ({ method: request.method(), url: response.url(), status: response.status(), requestHeaders, responseHeaders, body }),
        // The page closed while its last answers came in: the cases that close pages read nothing after.
        () => undefined,
      ),
    );
  });
  return async () => (await Promise.all(reads)).filter((seen) => seen !== undefined);
}

/** What `select` finds in the page's answers, once `expectation` holds of it. */
function answered<T>(seen: () => Promise<Seen[]>, select: (all: Seen[]) => T, expectation: (found: T) => void): Promise<T> {
  return vi.waitFor(
    async () => {
      const found = select(await seen());
      expectation(found);
      return found;
    },
    { timeout: 5_000, interval: 50 },
  );
}

const tokenCalls = (seen: Seen[]) => seen.filter((entry) => entry.method === "POST" && new URL(entry.url).pathname === "/api/session-token");
const usageCalls = (seen: Seen[]) => seen.filter((entry) => entry.method === "POST" && new URL(entry.url).pathname === "/api/session-token/usage");
const engineCalls = (seen: Seen[]) => seen.filter((entry) => entry.method === "POST" && new URL(entry.url).pathname === "/demo/anam/v1/engine/session");

interface DemoState {
  status: string;
  token?: string;
  sessionId?: string;
  error?: { code?: string; message: string };
  retries: Array<{ attempt: number; delayMs: number; status: number }>;
  events: Array<{ name: string; durationMs?: number; reason?: string }>;
}

const demoState = (page: Page) => page.evaluate(() => (globalThis as unknown as { tollgateDemo: { state: DemoState } }).tollgateDemo.state);

async function waitForStatus(page: Page, status: string): Promise<DemoState> {
  await page.waitForFunction((wanted) => (globalThis as unknown as { tollgateDemo: { state: DemoState } }).tollgateDemo.state.status === wanted, status, { timeout: 15_000 });
  return demoState(page);
}

/** The demo page on the page origin, talking to the token server as `userId`. */
async function openDemo(userId: string, into = context): Promise<{ page: Page; seen: () => Promise<Seen[]> }> {
  const page = await into.newPage();
  const seen = record(page);
  await page.goto(`${origin.url}/demo/?server=${encodeURIComponent(server.url)}#user=${await userToken(userId)}`);
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  return { page, seen };
}

async function metrics(): Promise<string> {
  return (await fetch(`${server.url}/metrics`)).text();
}

/** The sum of a Prometheus series' samples, over every label set. */
function sample(text: string, name: string): number {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  origin = await pageOrigin(() => server.url);
  [server, browser] = await Promise.all([
    spawnServer({
      HOST: "127.0.0.1",
      TOLLGATE_CORS_ORIGINS: origin.url,
      // Three tokens per user every 3 s: the 429 case reaches it, the others never do.
      TOLLGATE_RATE_LIMIT: "3/3s",
      TOLLGATE_METRICS: "prometheus",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_METRIC_EXPORT_INTERVAL: "60000",
    }),
    launchChromium(),
  ]);
  context = await loopbackContext(browser);
  // The page's script is bundled on its first request; done here, outside any one case.
  expect((await fetch(`${server.url}/demo/app.js`)).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await origin?.close();
  await receiver?.close();
});

describe("an Anam session in Chromium, through tollgate/client and the real SDK", () => {
  let first: { token: string; durationMs: number; sessionId: string };

  it("fetches a token cross-origin, redeems it once, reports started and ended, and the metrics show the session with its duration", async () => {
    const before = await metrics();
    const { page, seen } = await openDemo("browser-user-main");
    await page.click("#start");
    const live = await waitForStatus(page, "live");
    expect(live.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The session lasts a little before it is ended, as a conversation would.
    await page.waitForFunction(() => (globalThis as unknown as { tollgateDemo: { state: DemoState } }).tollgateDemo.state.events.some((event) => event.name === "started"));
    await page.click("#stop");
    await waitForStatus(page, "ended");
    await page.waitForFunction(() => (globalThis as unknown as { tollgateDemo: { state: DemoState } }).tollgateDemo.state.events.some((event) => event.name === "ended"));
    const ended = await demoState(page);

    // Cross-origin: the page's origin is sent, and the server allows it by name.
    const [tokenCall] = await answered(seen, tokenCalls, (calls) => expect(calls.length).toBeGreaterThan(0));
    expect(tokenCall!.requestHeaders.origin).toBe(origin.url);
    expect(tokenCall!.responseHeaders["access-control-allow-origin"]).toBe(origin.url);
    expect(tokenCall!.body).toMatchObject({ profile: PROFILE, clientId: expect.stringMatching(/^[A-Za-z0-9_-]{16,}$/) });

    // Redeemed once, by the SDK, with the token that tollgate handed out.
    const redeemed = await answered(seen, engineCalls, (calls) => expect(calls.length).toBeGreaterThan(0));
    expect(redeemed.map((call) => call.status)).toEqual([200]);
    expect(redeemed[0]!.requestHeaders.authorization).toBe(`Bearer ${live.token}`);

    const usage = await answered(seen, usageCalls, (calls) => expect(calls).toHaveLength(2));
    const reports = usage.map((call) => call.body as { token: string; event: string; sessionId?: string; durationMs?: number });
    expect(reports.map((report) => report.event)).toEqual(["started", "ended"]);
    expect(reports.every((report) => report.token === live.token)).toBe(true);
    expect(reports[0]!.sessionId).toBe(live.sessionId);
    const durationMs = reports[1]!.durationMs!;
    expect(typeof durationMs).toBe("number");
    expect(usage.every((call) => call.status === 204)).toBe(true);

    // The page watched the token's life arrive from the server.
    const names = ended.events.map((event) => event.name);
    expect(names).toEqual(expect.arrayContaining(["minted", "issued", "started", "ended"]));
    expect(names.indexOf("started")).toBeLessThan(names.indexOf("ended"));
    expect(ended.events.find((event) => event.name === "ended")!.durationMs).toBe(durationMs);

    const after = await metrics();
    expect(sample(after, "tollgate_tokens_used_total") - sample(before, "tollgate_tokens_used_total")).toBe(1);
    expect(sample(after, "tollgate_session_duration_seconds_count") - sample(before, "tollgate_session_duration_seconds_count")).toBe(1);
    expect(sample(after, "tollgate_session_duration_seconds_sum") - sample(before, "tollgate_session_duration_seconds_sum")).toBeCloseTo(durationMs / 1000, 6);
    first = { token: live.token!, durationMs, sessionId: live.sessionId! };
    await page.close();
  });

  it("exports the ended usage span with a link to the span that minted the same token", async () => {
    expect(first).toBeDefined();
    const spans = await vi.waitFor(
      () => {
        const all = exportedSpans(receiver);
        const usage = all.find((span) => span.name === "tollgate.usage" && span.events.some((event) => event.name === "tollgate.ended" && event.attributes["tollgate.duration"] === first.durationMs / 1000));
        expect(usage).toBeDefined();
        return { all, usage: usage! };
      },
      { timeout: 10_000, interval: 100 },
    );
    const ended = spans.usage.events.find((event) => event.name === "tollgate.ended")!;
    const fingerprint = ended.attributes["tollgate.token.fingerprint"];
    expect(typeof fingerprint).toBe("string");
    const minting = spans.all.find((span) => span.events.some((event) => event.name === "tollgate.minted" && event.attributes["tollgate.token.fingerprint"] === fingerprint));
    expect(minting?.name).toBe("tollgate.issue");
    // Another trace: the session's end is a request of its own, joined to the token's birth by the link.
    expect(spans.usage.traceId).not.toBe(minting!.traceId);
    expect(spans.usage.links).toContainEqual({ traceId: minting!.traceId, spanId: minting!.spanId });
    // The provider's session id, as the page reported it, names the session on the span, beside its length.
    expect(spans.usage.attributes["tollgate.session.id"]).toBe(first.sessionId);
    expect(spans.usage.attributes["tollgate.session.duration"]).toBe(first.durationMs / 1000);
  });

  it("gives a second tab its own token, and a reloaded tab its own unused one back", async () => {
    const one = await openDemo("browser-user-tabs");
    const two = await openDemo("browser-user-tabs");
    const getToken = (page: Page) =>
      page.evaluate(async () => {
        const demo = (globalThis as unknown as { tollgateDemo: { tollgate: { clientId: string; getToken(profile: string): Promise<{ token: string }> } } }).tollgateDemo;
        return { clientId: demo.tollgate.clientId, token: (await demo.tollgate.getToken("anam")).token };
      });
    const [fromOne, fromTwo] = [await getToken(one.page), await getToken(two.page)];
    expect(fromOne.clientId).not.toBe(fromTwo.clientId);
    expect(fromOne.token).not.toBe(fromTwo.token);

    await one.page.reload();
    await one.page.waitForFunction(() => document.body.dataset.ready === "true");
    const reloaded = await getToken(one.page);
    expect(reloaded).toEqual(fromOne);
    await Promise.all([one.page.close(), two.page.close()]);
  });

  it("reports ended when the page is closed during a session", async () => {
    const before = sample(await metrics(), "tollgate_session_duration_seconds_count");
    const { page } = await openDemo("browser-user-closes");
    await page.click("#start");
    await waitForStatus(page, "live");
    await page.waitForFunction(() => (globalThis as unknown as { tollgateDemo: { state: DemoState } }).tollgateDemo.state.events.some((event) => event.name === "started"));
    await page.close({ runBeforeUnload: true });
    await vi.waitFor(async () => expect(sample(await metrics(), "tollgate_session_duration_seconds_count")).toBe(before + 1), { timeout: 10_000, interval: 100 });
  });

  it("waits out a 429 as Retry-After says and then gets its token", async () => {
    const { page, seen } = await openDemo("browser-user-limited");
    const result = await page.evaluate(async () => {
      const demo = (globalThis as unknown as { tollgateDemo: { state: DemoState; tollgate: { getToken(profile: string): Promise<{ token: string }> } } }).tollgateDemo;
      // Three tokens are allowed per window; asked one after another, a few more reach the limit.
      for (let call = 0; call < 8 && demo.state.retries.length === 0; call++) await demo.tollgate.getToken("anam");
      return { retries: demo.state.retries };
    });
    expect(result.retries.length).toBeGreaterThan(0);
    const refused = (await answered(seen, (all) => tokenCalls(all).find((call) => call.status === 429), (call) => expect(call).toBeDefined()))!;
    const retryAfter = Number(refused.responseHeaders["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(result.retries[0]).toEqual({ attempt: 1, delayMs: retryAfter * 1000, status: 429 });
    // The page could read the refusal across origins, and the call after the wait got its token.
    expect(refused.responseHeaders["access-control-allow-origin"]).toBe(origin.url);
    const calls = await answered(seen, tokenCalls, (calls) => expect(calls.at(-1)!.status).toBe(200));
    expect(calls.findIndex((call) => call.status === 429)).toBeLessThan(calls.length - 1);
    await page.close();
  });

  it("reports a token the emulator refuses (already used) as failed and starts with a fresh one", async () => {
    const before = await metrics();
    const { page, seen } = await openDemo("browser-user-refused");
    const spent = await page.evaluate(async () => (await (globalThis as unknown as { tollgateDemo: { tollgate: { getToken(profile: string): Promise<{ token: string }> } } }).tollgateDemo.tollgate.getToken("anam")).token);
    // Someone else redeems it first: the server, not told, would hand this tab the same token again.
    const elsewhere = await fetch(`${server.url}/demo/anam/v1/engine/session`, { method: "POST", headers: { Authorization: `Bearer ${spent}`, "Content-Type": "application/json" }, body: "{}" });
    expect(elsewhere.status).toBe(200);

    await page.click("#start");
    const live = await waitForStatus(page, "live");
    expect(live.token).not.toBe(spent);

    // The SESSION_READY that made the page live came after the 200, but its answer may not be read yet.
    const redeemed = await answered(seen, engineCalls, (calls) => expect(calls).toHaveLength(2));
    expect(redeemed.map((call) => [call.status, call.requestHeaders.authorization])).toEqual([
      [401, `Bearer ${spent}`],
      [200, `Bearer ${live.token}`],
    ]);
    await page.waitForFunction(() => (globalThis as unknown as { tollgateDemo: { state: DemoState } }).tollgateDemo.state.events.some((event) => event.name === "started"));
    const reports = (await answered(seen, usageCalls, (calls) => expect(calls).toHaveLength(2))).map((call) => call.body as { token: string; event: string });
    expect(reports).toEqual([expect.objectContaining({ token: spent, event: "failed" }), expect.objectContaining({ token: live.token, event: "started" })]);
    const events = (await demoState(page)).events;
    expect(events.map((event) => event.name)).toContain("session_failed");
    expect(events.find((event) => event.name === "evicted" && event.reason === "failed")).toBeDefined();
    expect(sample(await metrics(), "tollgate_sessions_failed_total") - sample(before, "tollgate_sessions_failed_total")).toBe(1);
    await page.close();
  });

  // Last: it stops the server.
  it("ends the page's event stream when the server is told to stop, rather than hold the shutdown", async () => {
    const watching = await fetch(`${server.url}/demo/events`);
    const reader = watching.body!.getReader();
    await reader.read();
    const stopped = server.stop();
    // Ended by the server, cleanly: the stream is done, not cut off when the shutdown's grace ran out.
    let read = await reader.read();
    while (!read.done) read = await reader.read();
    await stopped;
    expect(server.output()).toMatch(/tollgate: stopped/);
  });
});

interface ExportedSpan {
  traceId: string;
  spanId: string;
  name: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
}

/** The spans received, with their links, read from the raw OTLP/JSON bodies. */
function exportedSpans(otlp: OtlpReceiver): ExportedSpan[] {
  const value = (attribute: { value: Record<string, unknown> }) => {
    const tagged = attribute.value;
    if ("stringValue" in tagged) return tagged.stringValue;
    if ("doubleValue" in tagged) return Number(tagged.doubleValue);
    if ("intValue" in tagged) return Number(tagged.intValue);
    return tagged.boolValue;
  };
  return otlp.bodies
    .filter((body) => body.path === "/v1/traces")
    .flatMap((body) => (JSON.parse(body.text) as { resourceSpans?: any[] }).resourceSpans ?? [])
    .flatMap((resource) => resource.scopeSpans ?? [])
    .flatMap((scope: any) => scope.spans ?? [])
    .map((span: any) => ({
      traceId: span.traceId,
      spanId: span.spanId,
      name: span.name,
      attributes: Object.fromEntries((span.attributes ?? []).map((attribute: any) => [attribute.key, value(attribute)])),
      events: (span.events ?? []).map((event: any) => ({ name: event.name, attributes: Object.fromEntries((event.attributes ?? []).map((attribute: any) => [attribute.key, value(attribute)])) })),
      links: (span.links ?? []).map((link: any) => ({ traceId: link.traceId, spanId: link.spanId })),
    }));
}
