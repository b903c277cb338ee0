import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * How many `sendto` calls `Deno.serve` makes for one HTTP/1.1 answer, by the size of its head
 * (status line and header fields) and of its body. Runs the `deno` binary from the npm package
 * under strace (Linux, `apt-get install strace`), asks each case once, and prints a table.
 *
 *   npx tsx bench/deno-sends.ts
 *
 * Why it is here: Deno writes an answer's head into a buffer and copies the body in behind it only
 * if the body fits in the room left; otherwise the body goes out in a second call. The buffer holds
 * 512 bytes, or the next power of two above a longer head, so an answer of 513 bytes with a short
 * head pays for two sends where one of 512 bytes pays for one (see docs/benchmarks.md).
 */

const DENO = join(import.meta.dirname, "..", "node_modules", ".bin", "deno");

/** A Deno.serve server whose answer has a `pad` header field of `padBytes` and a body of `bodyBytes`. */
const server = (padBytes: number, bodyBytes: number) => `
  const headers = { "content-type": "application/json" };
  if (${padBytes} > 0) headers["x-pad"] = "y".repeat(${padBytes});
  const body = '{"a":"' + "x".repeat(${bodyBytes} - 8) + '"}';
  Deno.serve({ port: 0, hostname: "127.0.0.1", onListen({ port }) { console.log("port", port); } }, () => new Response(body, { headers }));
`;

interface Count {
  head: number;
  body: number;
  sends: number;
}

async function countSends(padBytes: number, bodyBytes: number): Promise<Count> {
  const trace = join(tmpdir(), `deno-sends-${process.pid}.txt`);
  const child = spawn("strace", ["-f", "-e", "trace=sendto,write,writev,sendmsg", "-o", trace, DENO, "eval", server(padBytes, bodyBytes)], {
    stdio: ["ignore", "pipe", "inherit"],
    // Its own process group, so that stopping it stops the traced server too.
    detached: true,
  });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the server exited (${code}); is strace installed?`)));
      child.stdout!.on("data", (chunk: Buffer) => {
        const listening = /port (\d+)/.exec(chunk.toString());
        if (listening) resolve(listening[1]!);
      });
    });
    const response = await fetch(`http://127.0.0.1:${port}/`);
    const body = await response.text();
    const head = [...response.headers].reduce((bytes, [name, value]) => bytes + name.length + value.length + 4, "HTTP/1.1 200 OK\r\n\r\n".length);
    // Only the sends on the connection's socket: they are the ones that carry "HTTP/1.1" or the body.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sockets = new Set<string>();
    const lines = readFileSync(trace, "utf8").split("\n");
    for (const line of lines) {
      const match = /(?:sendto|write|writev|sendmsg)\((\d+), "HTTP\/1\.1 /.exec(line);
      if (match) sockets.add(match[1]!);
    }
    const sends = lines.filter((line) => {
      const match = /(?:sendto|write|writev|sendmsg)\((\d+),/.exec(line);
      return match !== null && sockets.has(match[1]!) && !line.includes("resumed");
    }).length;
    return { head, body: body.length, sends };
  } finally {
    const closed = new Promise((resolve) => child.once("close", resolve));
    if (child.exitCode === null) {
      process.kill(-child.pid!, "SIGKILL");
      await closed;
    }
    rmSync(trace, { force: true });
  }
}

// [padding header bytes, body bytes]: around 512 with the shortest head, then heads past 512.
const cases: Array<[number, number]> = [
  [0, 400],
  [0, 403],
  [0, 404],
  [300, 100],
  [420, 100],
  [420, 486],
  [420, 487],
];

console.log("| head bytes | body bytes | answer bytes | send calls |\n| ---: | ---: | ---: | ---: |");
for (const [pad, body] of cases) {
  const count = await countSends(pad, body);
  console.log(`| ${count.head} | ${count.body} | ${count.head + count.body} | ${count.sends} |`);
}
