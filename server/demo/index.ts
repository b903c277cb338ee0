import { fileURLToPath } from "node:url";
import type { Emulator } from "../../src/providers/emulator.ts";
import type { LifecycleEvent } from "../../src/index.ts";
import { demoPage } from "./page-html.ts";
import { startSignalling, type SignallingServer } from "./signalling.ts";

/**
 * The demo the standalone server serves at `/demo/` when every provider runs on its emulator: pick
 * an Anam profile, start a session through tollgate/client and the real Anam SDK, end it, and
 * watch the token's lifecycle events arrive (server-sent events fed by the handler's `onEvent`).
 * For the SDK it also stands in for Anam's edge: `/demo/anam/v1/engine/session` redeems the token at
 * the emulator (open to every origin, as Anam's API is), naming this process's signalling socket
 * as the engine host.
 */
export interface Demo {
  /** The answer to a `/demo/...` request. */
  fetch(request: Request): Promise<Response>;
  /** Hears the handler's lifecycle events, for the page's live list. */
  onEvent(event: LifecycleEvent): void;
  /**
   * Ends the event streams, and answers 503 to any asked for after: called when shutdown begins,
   * since a stream never ends on its own and would hold the server's close for its whole grace period.
   */
  stopping(): void;
  close(): Promise<void>;
}

export const DEMO_PATH = "/demo";

export interface DemoOptions {
  /** The emulator behind the Anam profiles. */
  anam: Emulator;
  /** The profiles the page offers. */
  profiles: string[];
  /** The demo user's bearer token, put in the page; absent when users sign in (then the page takes `#user=<token>`). */
  userToken: string | undefined;
  /** The token route, as the page's default server. */
  tokenPath: string;
}

const ANAM_PREFIX = `${DEMO_PATH}/anam`;
/** Anam's API is called from any page that holds a token, so its edge allows every origin. */
const OPEN_CORS = { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "Authorization, Content-Type", "Access-Control-Max-Age": "600" };

export function createDemo(options: DemoOptions): Demo {
  // Opened on the first session, so that a server whose demo is never used holds no extra port.
  let signalling: Promise<SignallingServer | undefined> | undefined;
  const listeners = new Set<(event: LifecycleEvent) => void>();
  /** How to end each open event stream. */
  const openStreams = new Set<() => void>();
  let stopped = false;
  let bundle: Promise<string> | undefined;

  async function engineSession(request: Request): Promise<Response> {
    const engine = await (signalling ??= startSignalling().catch(() => undefined));
    if (!engine) return Response.json({ message: "The demo's signalling socket could not start on this runtime" }, { status: 503, headers: OPEN_CORS });
    const upstream = await options.anam.fetch(new Request("http://anam-emulator.invalid/v1/engine/session", { method: "POST", headers: request.headers, body: await request.text() }));
    const body = (await upstream.json()) as Record<string, unknown>;
    if (upstream.ok) body.engineHost = engine.host;
    return Response.json(body, { status: upstream.status, headers: OPEN_CORS });
  }

  function anamEdge(request: Request, pathname: string): Promise<Response> | Response {
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: OPEN_CORS });
    if (request.method !== "POST") return Response.json({ message: "Method not allowed" }, { status: 405, headers: OPEN_CORS });
    const path = pathname.slice(ANAM_PREFIX.length);
    if (path === "/v1/engine/session") return engineSession(request);
    // The SDK's own telemetry: taken and dropped, so that nothing leaves this machine.
    if (path === "/v1/metrics/client") return new Response(null, { status: 204, headers: OPEN_CORS });
    return Response.json({ message: "Not found" }, { status: 404, headers: OPEN_CORS });
  }

  function events(request: Request): Response {
    if (stopped) return new Response("The server is stopping", { status: 503, headers: { "Retry-After": "5" } });
    const encoder = new TextEncoder();
    let end = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(": lifecycle events\n\n"));
        const listener = (event: LifecycleEvent) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(event)}\n\n`));
        end = () => {
          listeners.delete(listener);
          openStreams.delete(end);
          try {
            controller.close();
          } catch {
            // Already closed by the other side.
          }
        };
        listeners.add(listener);
        openStreams.add(end);
        request.signal.addEventListener("abort", end);
      },
      cancel() {
        end();
      },
    });
    return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store" } });
  }

  function stopping() {
    stopped = true;
    for (const end of [...openStreams]) end();
  }

  async function script(): Promise<Response> {
    bundle ??= buildPageScript().catch((error: unknown) => {
      bundle = undefined;
      throw error;
    });
    try {
      return new Response(await bundle, { headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store" } });
    } catch {
      return new Response("document.body.dataset.error = 'The demo script could not be built: esbuild is missing';", { status: 500, headers: { "Content-Type": "text/javascript" } });
    }
  }

  return {
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname.startsWith(`${ANAM_PREFIX}/`)) return anamEdge(request, pathname);
      if (request.method !== "GET" && request.method !== "HEAD") return new Response("Method not allowed", { status: 405, headers: { Allow: "GET, HEAD" } });
      if (pathname === DEMO_PATH) return Response.redirect(new URL(`${DEMO_PATH}/`, request.url), 308);
      if (pathname === `${DEMO_PATH}/`) {
        const config = { profiles: options.profiles, userToken: options.userToken, tokenPath: options.tokenPath, anamPath: ANAM_PREFIX };
        return new Response(demoPage(config), { headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" } });
      }
      if (pathname === `${DEMO_PATH}/app.js`) return script();
      if (pathname === `${DEMO_PATH}/events`) return events(request);
      return new Response("Not found", { status: 404 });
    },
    onEvent(event) {
      for (const listener of listeners) listener(event);
    },
    stopping,
    async close() {
      stopping();
      await (await signalling)?.close();
    },
  };
}

/**
 * The page's script with tollgate/client, its Anam hook and the Anam SDK in it, bundled by esbuild
 * (installed with the development dependencies, which the demo's `npm start` has) once, on first use.
 */
async function buildPageScript(): Promise<string> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./page.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}
