import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import type { Browser, Response as PageResponse } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sparePort } from "../support/ports.ts";
import { listen, type Listening } from "../support/servers.ts";
import { launchChromium, loopbackContext } from "./support.ts";

// The examples' page (examples/pages/), as it is, in Chromium against examples/node.ts on its Anam
// emulator: the page on an origin of its own, which the example allows through PAGE_ORIGIN, gets
// its token through tollgate/client. The page imports tollgate/client from `/dist` and the Anam SDK
// from esm.sh, as its import map says; here `/dist` is served from the sources, and the SDK from
// node_modules, since nothing leaves this machine. Every runtime example serves the same routes, so
// one of them stands for all (test/examples.test.ts starts each).

const ROOT = join(import.meta.dirname, "..", "..");
const SDK_URL = "https://esm.sh/@anam-ai/js-sdk@4.27.0";

let example: ChildProcess;
let exampleOrigin: string;
let pageOrigin: Listening;
let browser: Browser;

/** `entry` (or `contents`) bundled as an ES module, with the Anam SDK left to the import map. */
async function moduleOf(source: { entry: string } | { contents: string }): Promise<string> {
  const result = await build({
    ...("entry" in source ? { entryPoints: [join(ROOT, source.entry)] } : { stdin: { contents: source.contents, resolveDir: ROOT } }),
    bundle: true,
    format: "esm",
    platform: "browser",
    external: "entry" in source ? ["@anam-ai/js-sdk"] : [],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** The repository's files as a static server would serve them at the root, `/dist` built from the sources. */
async function servePages(): Promise<Listening> {
  const built: Record<string, string> = {
    "/dist/src/client/index.js": await moduleOf({ entry: "src/client/index.ts" }),
    "/dist/src/client/anam.js": await moduleOf({ entry: "src/client/anam.ts" }),
  };
  return listen("examples-pages", async (request) => {
    const path = new URL(request.url).pathname;
    if (built[path]) return new Response(built[path], { headers: { "Content-Type": "text/javascript" } });
    if (path === "/examples/pages/") return new Response(await readFile(join(ROOT, "examples/pages/index.html")), { headers: { "Content-Type": "text/html" } });
    if (path === "/examples/pages/session.js") return new Response(await readFile(join(ROOT, "examples/pages/session.js")), { headers: { "Content-Type": "text/javascript" } });
    return new Response("Not found", { status: 404 });
  });
}

beforeAll(async () => {
  pageOrigin = await servePages();
  const port = await sparePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), PAGE_ORIGIN: pageOrigin.url, NO_COLOR: "1" };
  delete env.ANAM_API_KEY;
  example = spawn(process.execPath, ["--import", "tsx", "examples/node.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/listening on http/i.test(output)) resolve();
    };
    example.stdout!.on("data", onData);
    example.stderr!.on("data", onData);
    example.once("exit", (code) => reject(new Error(`examples/node.ts exited with ${code}:\n${output}`)));
  });
  exampleOrigin = `http://127.0.0.1:${port}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (example && example.exitCode === null && example.signalCode === null) {
    const exited = new Promise((resolve) => example.once("exit", resolve));
    example.kill("SIGTERM");
    await exited;
  }
  await pageOrigin?.close();
});

describe("the examples' page", () => {
  it("gets a token from examples/node.ts through tollgate/client, across origins", async () => {
    const context = await loopbackContext(browser);
    // Registered after the context's refusal of every other host, so it comes first.
    const sdk = await moduleOf({ contents: 'export * from "@anam-ai/js-sdk";' });
    await context.route(SDK_URL, (route) => route.fulfill({ body: sdk, contentType: "text/javascript", headers: { "Access-Control-Allow-Origin": "*" } }));
    const page = await context.newPage();
    const tokenAnswer = page.waitForResponse((response: PageResponse) => response.request().method() === "POST" && response.url() === `${exampleOrigin}/api/session-token`);
    await page.goto(`${pageOrigin.url}/examples/pages/?server=${encodeURIComponent(exampleOrigin)}`);

    // The page prefetches a token as it loads, from the example on another origin, which allows it.
    const answer = await tokenAnswer;
    expect(answer.status()).toBe(200);
    expect((await answer.allHeaders())["access-control-allow-origin"]).toBe(pageOrigin.url);
    const { token, profile } = (await answer.json()) as { token: string; profile: string };
    expect(profile).toBe("support");
    expect(token.split(".")).toHaveLength(3);

    // The click takes that token to the Anam SDK, which the page logs before the SDK calls Anam.
    await page.click("#start");
    await page.waitForFunction(() => /token for support, expires /.test(document.getElementById("log")!.textContent ?? ""));
    await context.close();
  });
});
