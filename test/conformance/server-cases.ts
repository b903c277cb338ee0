import { createServerApp, TOKEN_PATH, USAGE_PATH } from "../../server/app.ts";
import { readConfig } from "../../server/config.ts";
import { equal, ok, problem, status } from "./assert.ts";
import type { ConformanceCase } from "./cases.ts";
import type { Transport } from "./fixture.ts";

/** The standalone server's routes, in emulator mode, as its contract in DESIGN.md states them. */

const quiet = { error() {}, warn() {}, info() {} };

function test(name: string, body: (send: (path: string, init?: RequestInit) => Promise<Response>, demoUserToken: string) => Promise<void>): ConformanceCase {
  return {
    name: `standalone server: ${name}`,
    async run(transport: Transport) {
      const app = await createServerApp(readConfig({}), quiet);
      const server = await transport(app.fetch);
      try {
        await body((path, init) => server.fetch(new URL(path, server.origin), init), app.demoUserToken!);
      } finally {
        await server.close();
      }
    },
  };
}

function post(token: string | undefined, body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  };
}

export const serverCases: ConformanceCase[] = [
  test("GET /healthz is ok", async (send) => {
    const response = await send("/healthz");
    await status(response, 200);
    equal(((await response.json()) as { status: string }).status, "ok", "health status");
  }),

  test("the demo user mints a token, reports it used and gets a fresh one", async (send, demo) => {
    const first = await send(TOKEN_PATH, post(demo, { profile: "anam" }));
    await status(first, 200);
    const { token } = (await first.json()) as { token: string };
    ok(token.split(".").length === 3, "the Anam token is a JWT");
    await status(await send(USAGE_PATH, post(demo, { token, event: "started" })), 204);
    const second = await send(TOKEN_PATH, post(demo, { profile: "anam" }));
    await status(second, 200);
    ok(((await second.json()) as { token: string }).token !== token, "a fresh token after use");
  }),

  test("401 without a user token, 404 off its routes", async (send) => {
    await problem(await send(TOKEN_PATH, post(undefined, { profile: "anam" })), 401, "unauthenticated");
    await problem(await send("/nowhere"), 404, "not_found");
  }),
];
