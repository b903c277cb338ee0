import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type User } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { createAnamEmulator } from "../../src/providers/anam/emulator.ts";
import { PERSONA } from "../conformance/fixture.ts";
import { mountSessionTokens, sessionTokens } from "../../adapters/hono.ts";

interface AppUser extends User {
  plan: "free" | "pro";
}
type AppEnv = { Variables: { user: AppUser } };

function app(options: { user?: Parameters<typeof sessionTokens<AppEnv>>[0]["user"] } = {}) {
  const emulator = createAnamEmulator({ apiKey: "k" });
  const provider = anam({ apiKey: "k", baseUrl: "http://anam.invalid", fetch: (input, init) => emulator.fetch(new Request(input, init)) });
  const hono = new Hono<AppEnv>();
  // The app's own sign-in: a header stands in for its session cookie.
  hono.use("/api/*", async (c, next) => {
    const name = c.req.header("X-User");
    if (name) c.set("user", { id: name, plan: name === "pat" ? "free" : "pro" });
    await next();
  });
  const tokens = sessionTokens<AppEnv>({ provider, personas: { support: PERSONA }, authorize: (user) => user.plan === "pro", ...options });
  hono.all("/api/session-token/*", tokens);
  return { hono, tokens, emulator };
}

function post(user: string | undefined, body: unknown): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/json", ...(user ? { "X-User": user } : {}) }, body: JSON.stringify(body) };
}

describe("sessionTokens (Hono)", () => {
  it("takes the user from c.get('user') and mints for them", async () => {
    const { hono } = app();
    const response = await hono.request("/api/session-token", post("sam", { personaType: "support" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sessionToken: expect.any(String), expiresAt: expect.any(String) });
  });

  it("answers 401 when the app's middleware set no user, and 403 when authorize refuses", async () => {
    const { hono } = app();
    expect((await hono.request("/api/session-token", post(undefined, { personaType: "support" }))).status).toBe(401);
    expect((await hono.request("/api/session-token", post("pat", { personaType: "support" }))).status).toBe(403);
  });

  it("serves the usage route under the same mount, for the user in the context", async () => {
    const { hono } = app();
    const { sessionToken } = (await (await hono.request("/api/session-token", post("sam", { personaType: "support" }))).json()) as { sessionToken: string };
    expect((await hono.request("/api/session-token/usage", post("kim", { sessionToken, event: "started" }))).status).toBe(403);
    expect((await hono.request("/api/session-token/usage", post("sam", { sessionToken, event: "started" }))).status).toBe(204);
  });

  it("reads the user from wherever the app keeps it", async () => {
    const { hono } = app({ user: (c) => (c.req.header("X-Api-Client") === "kiosk" ? { id: "kiosk", plan: "pro" } : null) });
    const request = (client: string) => ({ ...post(undefined, { personaType: "support" }), headers: { "Content-Type": "application/json", "X-Api-Client": client } });
    expect((await hono.request("/api/session-token", request("kiosk"))).status).toBe(200);
    expect((await hono.request("/api/session-token", request("other"))).status).toBe(401);
  });

  it("exposes the issuer behind the routes", async () => {
    const { hono, tokens } = app();
    const { sessionToken } = (await (await hono.request("/api/session-token", post("sam", { personaType: "support" }))).json()) as { sessionToken: string };
    expect((await tokens.issuer.inspectToken(sessionToken)).known).toBe(true);
  });

  it("mounts both routes on the app with the user typed from its Variables", async () => {
    const emulator = createAnamEmulator({ apiKey: "k" });
    const provider = anam({ apiKey: "k", baseUrl: "http://anam.invalid", fetch: (input, init) => emulator.fetch(new Request(input, init)) });
    const hono = new Hono<AppEnv>();
    hono.use("/api/*", async (c, next) => {
      const name = c.req.header("X-User");
      if (name) c.set("user", { id: name, plan: name === "pat" ? "free" : "pro" });
      await next();
    });
    // `user.plan` type-checks: the user is the app's AppUser, not tollgate's User.
    mountSessionTokens(hono, { provider, personas: { support: PERSONA }, authorize: (user) => user.plan === "pro" });
    const minted = await hono.request("/api/session-token", post("sam", { personaType: "support" }));
    expect(minted.status).toBe(200);
    expect((await hono.request("/api/session-token", post("pat", { personaType: "support" }))).status).toBe(403);
    const { sessionToken } = (await minted.json()) as { sessionToken: string };
    expect((await hono.request("/api/session-token/usage", post("sam", { sessionToken, event: "started" }))).status).toBe(204);
  });
});
