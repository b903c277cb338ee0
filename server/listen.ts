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
export async function listen(fetch: FetchHandler, port: number, hostname = process.env.HOST): Promise<Listening> {
  const deno = (globalThis as { Deno?: DenoServe }).Deno;
  if (deno) {
    let server!: ReturnType<DenoServe["serve"]>;
    const bound = await new Promise<number>((resolve) => {
      // onListen also keeps Deno from printing its own "Listening on" line.
      server = deno.serve({ port, hostname, onListen: (address) => resolve(address.port) }, fetch);
    });
    return { port: bound, close: () => server.shutdown() };
  }
  return listenThroughSrvx(fetch, port, hostname);
}

/** Serves `fetch` through srvx on whichever runtime this is (the benchmark's `--srvx` uses it on Deno too). */
export async function listenThroughSrvx(fetch: FetchHandler, port: number, hostname?: string): Promise<Listening> {
  const server = serve({ fetch, port, hostname, silent: true, gracefulShutdown: false });
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
