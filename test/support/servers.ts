import { serve } from "srvx";
import { createAnamEmulator, type AnamEmulator, type AnamEmulatorOptions } from "../../src/providers/anam/emulator.ts";
import type { Logger } from "../../src/index.ts";
import { recordLogLine, recordResponse } from "./traffic.ts";

/** Test servers on real loopback ports: the handler under test on one, the Anam emulator on another. */

export const TEST_API_KEY = "anam_sk_test_4f1c9e2b7d5a8c3e6b0f";

export interface Listening {
  url: string;
  close(): Promise<void>;
}

const open = new Set<Listening>();

/** Serves `fetch` on an ephemeral loopback port, recording every response it sends. */
export async function listen(name: string, fetch: (request: Request) => Promise<Response> | Response): Promise<Listening> {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    silent: true,
    gracefulShutdown: false,
    fetch: async (request) => {
      const response = await fetch(request);
      await recordResponse(name, response);
      return response;
    },
  });
  await server.ready();
  const listening = {
    url: server.url!.replace(/\/$/, ""),
    close: async () => {
      open.delete(listening);
      await server.close(true);
    },
  };
  open.add(listening);
  return listening;
}

export async function closeAll(): Promise<void> {
  await Promise.all([...open].map((server) => server.close()));
}

export interface Upstream extends Listening {
  emulator: AnamEmulator;
}

/** The Anam emulator on its own loopback port, accepting TEST_API_KEY. */
export async function startUpstream(options: Partial<AnamEmulatorOptions> = {}): Promise<Upstream> {
  const emulator = createAnamEmulator({ apiKey: TEST_API_KEY, ...options });
  const server = await listen("anam-emulator", emulator.fetch);
  return { ...server, emulator };
}

/** A logger that keeps its lines for assertions and for the run-wide leak check. */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message: string) => {
    const line = JSON.stringify({ level, message, ...fields });
    lines.push(line);
    recordLogLine("handler", line);
  };
  return { lines, error: write("error"), warn: write("warn"), info: write("info") };
}
