import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import express from "express";
import { afterAll, describe, expect, it } from "vitest";
import { createTokenHandler } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { toNodeHandler } from "../../adapters/node.ts";
import { PERSONA } from "../conformance/fixture.ts";

// The README's Express mounting, line for line, with CORS on: a browser on another origin sends
// a preflight (OPTIONS) before its POST. With POST alone mounted, Express answers the preflight
// itself (200, with Allow but no CORS field), and the browser never sends the POST.

const ORIGIN = "https://app.example.com";
const closers: Array<() => void> = [];
afterAll(() => closers.forEach((close) => close()));

/** The lines of the README that mount the handler on the Express app. */
async function expressMounting(): Promise<string[]> {
  const readme = await readFile(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const lines = readme.split("\n").filter((line) => /^app\.\w+\("\/api\/session-token(\/usage)?", toNodeHandler\(handler\)\);$/.test(line));
  expect(lines).toHaveLength(2);
  return lines;
}

describe("the README's Express mounting", () => {
  it("answers a CORS preflight and a POST on both routes", async () => {
    const handler = createTokenHandler({ provider: anam.emulated(), personas: { support: PERSONA }, authenticate: () => ({ id: "reader" }), cors: { origins: [ORIGIN] } });
    const app = express();
    new Function("app", "toNodeHandler", "handler", (await expressMounting()).join("\n"))(app, toNodeHandler, handler);
    const server = app.listen(0, "127.0.0.1");
    closers.push(() => server.close());
    await new Promise((resolve) => server.once("listening", resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    for (const path of ["/api/session-token", "/api/session-token/usage"]) {
      const preflight = await fetch(origin + path, {
        method: "OPTIONS",
        headers: { Origin: ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" },
      });
      expect(preflight.status, path).toBe(204);
      expect(preflight.headers.get("Access-Control-Allow-Origin"), path).toBe(ORIGIN);
    }
    const minted = await fetch(`${origin}/api/session-token`, { method: "POST", headers: { Origin: ORIGIN, "Content-Type": "application/json" }, body: '{"profile":"support"}' });
    expect(minted.status).toBe(200);
  });
});
