import type { Transport } from "./fixture.ts";

/**
 * Puts a handler behind this runtime's own HTTP server on a loopback port: `Bun.serve` under Bun,
 * `Deno.serve` under Deno, and `node:http` through tollgate's Node adapter elsewhere.
 */

type FetchHandler = (request: Request) => Promise<Response>;

interface Listening {
  port: number;
  close(): Promise<void>;
}

interface BunGlobal {
  serve(options: { port: number; hostname: string; fetch: FetchHandler }): { port: number; stop(force?: boolean): Promise<void> | void };
}

interface DenoGlobal {
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: FetchHandler,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

export function runtimeName(): "bun" | "deno" | "node" {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "node";
}

async function listen(handler: FetchHandler): Promise<Listening> {
  const runtime = runtimeName();
  if (runtime === "bun") {
    const server = (globalThis as unknown as { Bun: BunGlobal }).Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
    return { port: server.port, close: async () => void (await server.stop(true)) };
  }
  if (runtime === "deno") {
    const server = (globalThis as unknown as { Deno: DenoGlobal }).Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  const { createServer } = await import("node:http");
  const { toNodeHandler } = await import("../../adapters/node.ts");
  const server = createServer(toNodeHandler(handler));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const overHttp: Transport = async (handler) => {
  const server = await listen(handler);
  return { origin: `http://127.0.0.1:${server.port}`, fetch: globalThis.fetch, close: server.close };
};
