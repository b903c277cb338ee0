import express from "express";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createTokenHandler, type TokenHandlerOptions } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { createAnamEmulator } from "../../src/providers/anam/emulator.ts";
import { PERSONA } from "../conformance/fixture.ts";
import { toNodeHandler } from "../../adapters/node.ts";

function tokenHandler(options: Partial<TokenHandlerOptions> = {}) {
  const emulator = createAnamEmulator({ apiKey: "k" });
  return createTokenHandler({
    provider: anam({ apiKey: "k", baseUrl: "http://anam.invalid", fetch: (input, init) => emulator.fetch(new Request(input, init)) }),
    authenticate: (request) => (request.headers.get("Authorization") === "Bearer sam" ? { id: "sam" } : null),
    personas: { support: PERSONA },
    ...options,
  });
}

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function listen(listener: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const mintRequest: RequestInit = {
  method: "POST",
  headers: { Authorization: "Bearer sam", "Content-Type": "application/json" },
  body: JSON.stringify({ personaType: "support" }),
};

describe("toNodeHandler", () => {
  it("serves the token routes from node:http", async () => {
    const origin = await listen(toNodeHandler(tokenHandler()));
    const response = await fetch(`${origin}/api/session-token`, mintRequest);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const { sessionToken } = (await response.json()) as { sessionToken: string };
    const usage = await fetch(`${origin}/api/session-token/usage`, { ...mintRequest, body: JSON.stringify({ sessionToken, event: "started" }) });
    expect(usage.status).toBe(204);
  });

  it("mounts in Express under a path, with express.json() already run", async () => {
    const app = express();
    app.use(express.json());
    app.use("/api/session-token", toNodeHandler(tokenHandler()));
    const origin = await listen(app);
    const minted = await fetch(`${origin}/api/session-token`, mintRequest);
    expect(minted.status).toBe(200);
    const { sessionToken } = (await minted.json()) as { sessionToken: string };
    const usage = await fetch(`${origin}/api/session-token/usage`, { ...mintRequest, body: JSON.stringify({ sessionToken, event: "started" }) });
    expect(usage.status).toBe(204);
    const unknown = await fetch(`${origin}/api/session-token`, { ...mintRequest, body: JSON.stringify({ personaType: "villain" }) });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("content-type")).toBe("application/problem+json");
  });

  it("keeps the size cap for a body streamed without Content-Length", async () => {
    const origin = await listen(toNodeHandler(tokenHandler({ maxBodyBytes: 1024 })));
    const chunk = new TextEncoder().encode("x".repeat(4096));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({ pull: (controller) => (sent++ < 64 ? controller.enqueue(chunk) : controller.close()) });
    const response = await fetch(`${origin}/api/session-token`, { ...mintRequest, body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
    // The server is still up for the next client.
    expect((await fetch(`${origin}/api/session-token`, mintRequest)).status).toBe(200);
  });

  it("aborts the request's signal when the client goes away", async () => {
    let signalled!: (signal: AbortSignal) => void;
    const seen = new Promise<AbortSignal>((resolve) => (signalled = resolve));
    const origin = await listen(
      toNodeHandler(
        tokenHandler({
          authenticate: (request) => {
            signalled(request.signal);
            return new Promise(() => {}); // never answers: the client gives up first
          },
        }),
      ),
    );
    const client = new AbortController();
    const pending = fetch(`${origin}/api/session-token`, { ...mintRequest, signal: client.signal }).catch(() => "aborted");
    const signal = await seen;
    expect(signal.aborted).toBe(false);
    client.abort();
    expect(await pending).toBe("aborted");
    await new Promise((resolve) => (signal.aborted ? resolve(undefined) : signal.addEventListener("abort", resolve)));
    expect(signal.aborted).toBe(true);
  });

  it("hands a failure to next() in Express", async () => {
    const app = express();
    app.use(toNodeHandler(() => Promise.reject(new Error("boom"))));
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(599).send(error.message));
    const origin = await listen(app);
    const response = await fetch(`${origin}/`, mintRequest);
    expect(response.status).toBe(599);
  });
});
