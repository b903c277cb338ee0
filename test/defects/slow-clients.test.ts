/**
 * Slow and greedy clients against the standalone server's listener (server/listen.ts), on raw
 * sockets over loopback: stalled headers, a stalled body and an idle connection are cut off, and
 * a declared 100 MB body is answered 413 and the connection closed rather than read to its end.
 * On Node in this process; on Bun, whose one knob is an idle timeout, in a child process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, type Listening } from "../../server/listen.ts";
import { closeAll, gateway } from "./support.ts";

let server: Listening;
let bun: { child: ChildProcess; port: number } | undefined;
beforeAll(async () => {
  const { handler } = await gateway({ rateLimit: false });
  // Short limits, so that the test need not wait out the defaults.
  server = await listen(handler, 0, "127.0.0.1", { headersMs: 500, requestMs: 1_000, idleMs: 500 });
});
afterAll(async () => {
  bun?.child.kill("SIGKILL");
  await server?.close();
  await closeAll();
});

interface Conversation {
  socket: Socket;
  /** Everything the server has sent so far. */
  received(): string;
  /** Resolves when the server has closed the connection, with what it sent. */
  closed: Promise<string>;
}

async function open(port = server.port): Promise<Conversation> {
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let text = "";
  socket.on("data", (chunk) => (text += chunk.toString("latin1")));
  // A reset counts as closed too: either way the server let go.
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(text)));
  socket.on("error", () => {});
  return { socket, received: () => text, closed };
}

const headers = (fields: Record<string, string | number>) =>
  `POST /api/session-token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer user:slow\r\nContent-Type: application/json\r\n${Object.entries(fields)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;

describe("the listener", () => {
  it("drops a connection whose headers never finish", async () => {
    const { socket, closed } = await open();
    socket.write("POST /api/session-token HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const sent = await closed;
    // Node answers 408 before it closes; either way no handler ever saw the request.
    expect(sent === "" || sent.startsWith("HTTP/1.1 408")).toBe(true);
  });

  it("answers 408 and drops a connection whose body stalls", async () => {
    const { socket, closed } = await open();
    socket.write(headers({ "Content-Length": 100 }) + '{"personaType":');
    expect(await closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it("closes a kept-alive connection that stays idle", async () => {
    const { socket, received, closed } = await open();
    const body = JSON.stringify({ personaType: "support" });
    socket.write(headers({ "Content-Length": Buffer.byteLength(body) }) + body);
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 200/);
  });

  it("answers a declared 100 MB body with 413 and Connection: close, and closes without reading it", async () => {
    const { socket, closed } = await open();
    socket.write(headers({ "Content-Length": 100 * 1024 * 1024 }) + "x".repeat(1024));
    // The rest of the 100 MB is never sent: the server must not wait for it.
    const sent = await closed;
    expect(sent).toMatch(/^HTTP\/1\.1 413/);
    expect(sent).toMatch(/\r\nconnection: close\r\n/i);
  });
});

// Bun's idle timeout is its only knob, and it acts on a coarse tick: a stalled connection goes some
// seconds after the second it was given; stalled headers go on a timeout of Bun's own, longer still.
// So these cases wait longer, side by side.
describe.concurrent("the listener on Bun", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    const child = spawn(new URL("../../node_modules/.bin/bun", import.meta.url).pathname, ["test/defects/slow-clients-listener.ts"], {
      cwd: new URL("../..", import.meta.url).pathname,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        const match = /listening on (\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`bun exited with ${code} before listening`)));
    });
    bun = { child, port };
  });

  it("drops a connection whose headers never finish", async ({ expect }) => {
    const { socket, closed } = await open(bun!.port);
    socket.write("POST /api/session-token HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    expect(await closed).toBe("");
  });

  it("drops a connection whose body stalls, never answering it", async ({ expect }) => {
    const { socket, closed } = await open(bun!.port);
    socket.write(headers({ "Content-Length": 100 }) + '{"personaType":');
    expect(await closed).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it("closes a kept-alive connection that stays idle", async ({ expect }) => {
    const { socket, received, closed } = await open(bun!.port);
    socket.write(headers({ "Content-Length": 2 }) + "{}");
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 200/);
  });
});
