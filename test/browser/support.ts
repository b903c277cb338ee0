import { build } from "esbuild";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { serve } from "srvx";
import { createTokenHandler, type LifecycleEvent, type TokenHandlerOptions } from "../../src/index.ts";
import { listen } from "../support/servers.ts";

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

/** `exports` (ESM export lines, paths from the repository's root) bundled for a page as an app's bundler would, on `globalThis.tollgate`. */
export async function pageBundle(exports: string): Promise<string> {
  const result = await build({
    stdin: { contents: exports, resolveDir: new URL("../..", import.meta.url).pathname, loader: "ts" },
    bundle: true,
    format: "iife",
    globalName: "tollgate",
    platform: "browser",
    write: false,
  });
  return result.outputFiles[0]!.text;
}

/** An origin of its own whose page loads `script` and nothing else. */
export async function scriptPage(script: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    silent: true,
    gracefulShutdown: false,
    fetch: (request) =>
      new URL(request.url).pathname === "/page.js"
        ? new Response(script, { headers: { "Content-Type": "text/javascript" } })
        : new Response('<!doctype html><meta charset="utf-8"><title>tollgate</title><script src="/page.js"></script>', { headers: { "Content-Type": "text/html" } }),
  });
  await server.ready();
  return { url: server.url!.replace(/\/$/, ""), close: () => server.close(true) };
}

/** The bearer token of the one user the pages of these suites sign in as. */
export const PAGE_USER_BEARER = "Bearer page-user";

/** A request that reached a token route: its path and JSON body, and the JSON it was answered with. */
export interface RouteCall {
  path: string;
  status: number;
  body: Record<string, unknown> | undefined;
  answer: Record<string, unknown> | undefined;
}

/**
 * A token handler on a loopback port for `profiles`, callable from `pageOrigin`, its events kept in
 * `events` and, when given, the requests it answered in `calls`; its token route's URL.
 */
export async function tokenRouteFor(
  name: string,
  profiles: TokenHandlerOptions["profiles"],
  pageOrigin: string,
  events: LifecycleEvent[],
  options: { calls?: RouteCall[]; rateLimit?: TokenHandlerOptions["rateLimit"] } = {},
): Promise<string> {
  const handler = createTokenHandler({
    profiles,
    authenticate: (request) => (request.headers.get("Authorization") === PAGE_USER_BEARER ? { id: "page-user" } : null),
    cors: { origins: [pageOrigin] },
    onEvent: (event) => events.push(event),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  });
  const { calls } = options;
  const recording = async (request: Request): Promise<Response> => {
    if (!calls || request.method !== "POST") return handler(request);
    const body = (await request.clone().json().catch(() => undefined)) as RouteCall["body"];
    const response = await handler(request);
    const answer = (await response.clone().json().catch(() => undefined)) as RouteCall["answer"];
    calls.push({ path: new URL(request.url).pathname, status: response.status, body, answer });
    return response;
  };
  return `${(await listen(name, recording)).url}/api/session-token`;
}

/** A new tab on `url`, once the page's bundle has loaded. */
export async function openTab(context: BrowserContext, url: string): Promise<Page> {
  const tab = await context.newPage();
  await tab.goto(`${url}/`);
  await tab.waitForFunction(() => "tollgate" in globalThis);
  return tab;
}
