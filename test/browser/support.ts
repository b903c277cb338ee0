import { chromium, type Browser, type BrowserContext } from "playwright-core";
import { serve } from "srvx";

/**
 * For the browser suites: Debian's Chromium, headless, driven by playwright-core, with every request
 * that would leave loopback refused; and a second origin for the page, a plain HTTP proxy to the
 * server under test, so that the page and the token server are on different origins.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

/** A context (a browser profile) that refuses every request that is not to 127.0.0.1. */
export async function loopbackContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.route(
    (url) => url.hostname !== "127.0.0.1",
    (route) => route.abort("blockedbyclient"),
  );
  return context;
}

/** An origin of its own that forwards every request to `target`, as a front end's host would serve a page. */
export async function pageOrigin(target: () => string): Promise<{ url: string; close(): Promise<void> }> {
  // Not the suites' recording `listen`: it reads each body whole, and the page's event stream never ends.
  const server = serve({ port: 0, hostname: "127.0.0.1", silent: true, gracefulShutdown: false, fetch: async (request) => {
    const url = new URL(request.url);
    const forwarded = new URL(url.pathname + url.search, target());
    const headers = new Headers(request.headers);
    headers.delete("host");
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    const response = await fetch(forwarded, { method: request.method, headers, body, redirect: "manual", signal: request.signal });
    return new Response(response.body, { status: response.status, headers: response.headers });
  } });
  await server.ready();
  return { url: server.url!.replace(/\/$/, ""), close: () => server.close(true) };
}
