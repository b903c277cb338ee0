/**
 * Slow and greedy clients against the standalone server's listener (server/listen.ts), on raw
 * sockets over loopback: stalled headers, a stalled body and an idle connection are cut off, and
 * a declared 100 MB body is answered 413 and the connection closed rather than read to its end.
 * On Node in this process; on Bun, whose one knob is an idle timeout, in a child process.
 *
 * Each case gives the listener a timeout far shorter than the runtime's own default and looks at
 * the connection once, at a moment between the two: closed then, it was the configured timeout
 * that closed it, since the default would still hold it open. Without the listener's settings
 * (Node's 60 s for headers, 300 s for a request and 5 s of keep-alive; Bun's 10 s idle timeout)
 * the connection is still open at that moment and the case fails.
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

/** Said of a connection the server still holds open at the moment it is looked at. */
const STILL_OPEN = "(still open)";

/**
 * What the server sent on a connection it closed within `ms`, or STILL_OPEN. The connection is
 * then let go by the test, so that a failing case leaves nothing behind.
 */
async function closedWithin(conversation: Conversation, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const look = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(STILL_OPEN), ms)));
  const seen = await Promise.race([conversation.closed, look]);
  clearTimeout(timer);
  conversation.socket.destroy();
  return seen;
}

/** When the Node cases look: well past the listener's timeouts, well before Node's defaults (5 s at the least). */
const NODE_LOOK_MS = 3_000;

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
    const conversation = await open();
    conversation.socket.write("POST /api/session-token HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const sent = await closedWithin(conversation, NODE_LOOK_MS);
    // Node answers 408 before it closes; either way no handler ever saw the request.
    expect(sent === "" || sent.startsWith("HTTP/1.1 408"), sent).toBe(true);
  });

  it("answers 408 and drops a connection whose body stalls", async () => {
    const conversation = await open();
    conversation.socket.write(headers({ "Content-Length": 100 }) + '{"personaType":');
    expect(await closedWithin(conversation, NODE_LOOK_MS)).toMatch(/^HTTP\/1\.1 408/);
  });

  it("closes a kept-alive connection that stays idle", async () => {
    const conversation = await open();
    const body = JSON.stringify({ personaType: "support" });
    conversation.socket.write(headers({ "Content-Length": Buffer.byteLength(body) }) + body);
    expect(await closedWithin(conversation, NODE_LOOK_MS)).toMatch(/^HTTP\/1\.1 200/);
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

// Bun's idle timeout is its only knob, and it acts on a coarse tick: given one second, a stalled
// connection goes some seconds later, while Bun's default (10 s) lets it go some seconds after
// that. The cases look between the two. Stalled headers go on a timeout of Bun's own, which
// idleTimeout does not change: that case shows what the listener relies on, and fails only if Bun
// stops cutting them off. So these cases wait longer, side by side.
const BUN_LOOK_MS = 8_000;
/** Bun's own cut-off for stalled headers, whatever idleTimeout says, with room to spare. */
const BUN_HEADERS_LOOK_MS = 20_000;

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

  it("drops a connection whose headers never finish (Bun's own timeout)", async ({ expect }) => {
    const conversation = await open(bun!.port);
    conversation.socket.write("POST /api/session-token HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    expect(await closedWithin(conversation, BUN_HEADERS_LOOK_MS)).toBe("");
  });

  it("drops a connection whose body stalls, never answering it", async ({ expect }) => {
    const conversation = await open(bun!.port);
    conversation.socket.write(headers({ "Content-Length": 100 }) + '{"personaType":');
    expect(await closedWithin(conversation, BUN_LOOK_MS)).toBe("");
  });

  it("closes a kept-alive connection that stays idle", async ({ expect }) => {
    const conversation = await open(bun!.port);
    conversation.socket.write(headers({ "Content-Length": 2 }) + "{}");
    expect(await closedWithin(conversation, BUN_LOOK_MS)).toMatch(/^HTTP\/1\.1 200/);
  });
});
