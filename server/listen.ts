import type { Server as NodeServer } from "node:http";
import process from "node:process";
import { serve } from "srvx";

/** A server answering on a port until it is closed. */
export interface Listening {
  readonly port: number;
  /**
   * Stops taking connections, lets the requests in flight finish, then ends the open connections;
   * connections still busy after `graceMs` (default 10 s) are ended anyway.
   */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;

type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * How long a client may take, so that slow or stalled clients cannot hold connections open. The
 * runtimes offer different knobs, so each applies what it has:
 * - Node (`node:http`): all three, as `headersTimeout`, `requestTimeout` and `keepAliveTimeout`;
 * - Bun: `idleTimeout`, the longest a connection may send nothing (at most 255 s), which also
 *   bounds a stalled body; stalled headers are cut off by a timeout of Bun's own, whatever
 *   `idleTimeout` says (test/defects/slow-clients.test.ts shows both);
 * - Deno: `Deno.serve` has no such options; put a proxy with timeouts in front of it.
 */
export interface ClientTimeouts {
  /** The longest wait for a request's headers, in ms. Default 10 000. */
  headersMs?: number;
  /** The longest wait for a whole request, its body included, in ms. Default 30 000. */
  requestMs?: number;
  /** The longest a connection may stay idle (between requests, or on Bun stalled anywhere), in ms. Default 30 000. */
  idleMs?: number;
}

const DEFAULT_TIMEOUTS: Required<ClientTimeouts> = { headersMs: 10_000, requestMs: 30_000, idleMs: 30_000 };

/** The part of Deno's global that serving needs, so that this file type-checks under Node too. */
interface DenoServe {
  serve(
    options: { port: number; hostname?: string; onListen(address: { port: number }): void },
    handler: FetchHandler,
  ): { shutdown(): Promise<void> };
}

/**
 * Serves `fetch` on `port` (0 for any free one), on `hostname` or else the `HOST` environment
 * variable, as srvx reads it, or else every interface. On Deno through `Deno.serve` itself:
 * srvx's Deno adapter wraps every request and answer, which added 15 to 37 µs of server CPU to
 * each cache hit of the token route, out of 100 to 120 µs through srvx (docs/benchmarks.md).
 * Elsewhere through srvx: `node:http` on Node, and `Bun.serve` on Bun, where srvx measured the
 * same as `Bun.serve` alone.
 */
export async function listen(fetch: FetchHandler, port: number, hostname = process.env.HOST, timeouts: ClientTimeouts = {}): Promise<Listening> {
  const handler = closingAfterOversizeBody(fetch);
  const deno = (globalThis as { Deno?: DenoServe }).Deno;
  if (deno) {
    const answering = inFlight(handler);
    let server!: ReturnType<DenoServe["serve"]>;
    const bound = await new Promise<number>((resolve) => {
      // onListen also keeps Deno from printing its own "Listening on" line.
      server = deno.serve({ port, hostname, onListen: (address) => resolve(address.port) }, answering.fetch);
    });
    return {
      port: bound,
      // Deno's shutdown() lets a handler finish but cuts off a request body still arriving, so
      // the requests being answered are waited for first, up to the grace period, as srvx and
      // node:http wait for them. Deno stops taking connections only at shutdown(), so one that
      // comes meanwhile is answered too.
      close: async (graceMs = DEFAULT_GRACE_MS) => {
        await answering.done(graceMs);
        await server.shutdown();
      },
    };
  }
  return listenThroughSrvx(handler, port, hostname, timeouts);
}

/** Serves `fetch` through srvx on whichever runtime this is (the benchmark's `--srvx` uses it on Deno too). */
export async function listenThroughSrvx(fetch: FetchHandler, port: number, hostname?: string, timeouts: ClientTimeouts = {}): Promise<Listening> {
  const { headersMs, requestMs, idleMs } = { ...DEFAULT_TIMEOUTS, ...timeouts };
  const server = serve({
    fetch,
    port,
    hostname,
    silent: true,
    gracefulShutdown: false,
    // Bun counts its idle timeout in whole seconds, from 1 to 255 (0 would turn it off).
    bun: { idleTimeout: Math.min(255, Math.max(1, Math.ceil(idleMs / 1000))) },
    // Node enforces the header and request timeouts on a sweep, every 30 s unless told otherwise,
    // which would let a stalled client stay up to that much longer.
    node: { connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersMs / 2)) },
  });
  const node = (server as { node?: { server?: NodeServer } }).node?.server;
  if (node) {
    node.headersTimeout = headersMs;
    node.requestTimeout = requestMs;
    node.keepAliveTimeout = idleMs;
  }
  await server.ready();
  return {
    port: Number(new URL(server.url!).port),
    close: async (graceMs = DEFAULT_GRACE_MS) => {
      // close(false) waits for the requests in flight (Node also ends idle keep-alive connections
      // at once); close(true) ends whatever is left once the grace period is over.
      const graceful = server.close(false);
      // A keep-alive connection whose request finishes after the close would otherwise idle until
      // its keep-alive timeout; ending idle ones as they come lets the process go once all is answered.
      const nodeServer = (server as { node?: { server?: { closeIdleConnections?(): void } } }).node?.server;
      const sweep = setInterval(() => nodeServer?.closeIdleConnections?.(), 100);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
      if ((await Promise.race([graceful, late])) === "late") await server.close(true);
      clearTimeout(timer);
      clearInterval(sweep);
    },
  };
}

/** `fetch`, counting the requests it is answering, and a wait for that count to come to zero. */
function inFlight(fetch: FetchHandler): { fetch: FetchHandler; done(boundMs: number): Promise<void> } {
  let answering = 0;
  let whenIdle: (() => void) | undefined;
  return {
    fetch: async (request) => {
      answering++;
      try {
        return await fetch(request);
      } finally {
        if (--answering === 0) whenIdle?.();
      }
    },
    done: (boundMs) =>
      answering === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, boundMs);
            whenIdle = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
  };
}

/**
 * A request that declared a body too large for the handler is answered 413 with
 * `Connection: close`, so that the server drops the connection instead of reading the rest of
 * that body (it would otherwise read it all, to keep the connection for a next request).
 */
function closingAfterOversizeBody(fetch: FetchHandler): FetchHandler {
  return async (request) => {
    const response = await fetch(request);
    if (response.status !== 413 || request.headers.get("Content-Length") === null) return response;
    const headers = new Headers(response.headers);
    headers.set("Connection", "close");
    return new Response(response.body, { status: 413, statusText: response.statusText, headers });
  };
}
