import { createTokenHandler } from "../../src/index.ts";
import { PROVIDERS } from "../../server/providers.ts";
import { equal, ok, status } from "./assert.ts";
import type { ConformanceCase } from "./cases.ts";
import type { Transport } from "./fixture.ts";

/**
 * Every provider, on its emulator, through the handler on this runtime: a token with its expiry in
 * the answer, and a started report taken. Providers are web-standard code, so each must hold on
 * Node, Bun and Deno alike.
 */

const user = { id: "conformance-user" };

export const providerCases: ConformanceCase[] = Object.entries(PROVIDERS).map(([name, entry]) => ({
  name: `${name}: a token through the handler, and its started report`,
  async run(transport: Transport) {
    const handler = createTokenHandler({ profiles: { demo: { provider: entry.emulated(), config: entry.demo } }, authenticate: () => user, rateLimit: false });
    const server = await transport(handler);
    try {
      const post = (path: string, body: unknown) =>
        server.fetch(new URL(path, server.origin), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const minted = await post("/api/session-token", { profile: "demo" });
      await status(minted, 200);
      const answer = (await minted.json()) as { token: string; expiresAt: string; provider: string; profile: string };
      equal(answer.provider, name, "provider");
      equal(answer.profile, "demo", "profile");
      ok(answer.token.length > 16, "a token");
      ok(Date.parse(answer.expiresAt) > Date.now(), "an expiry in the future");
      await status(await post("/api/session-token/usage", { token: answer.token, event: "started" }), 204);
    } finally {
      await server.close();
    }
  },
}));
