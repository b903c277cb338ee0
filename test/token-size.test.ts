/**
 * A token is handed out only when the usage route can take its reports back: its size is counted in
 * UTF-8 bytes against the handler's body cap, less what a report needs besides the token. The
 * Anam emulator answers with the tokens given, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenHandler, problemType, type TokenHandlerOptions } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { maxTokenBytes } from "../src/wire.ts";
import { PERSONAS, asUser, authenticate } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";

let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(closeAll);

async function handlerWith(options: Partial<TokenHandlerOptions> = {}) {
  const handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { attempts: 1 } }),
    authenticate,
    personas: PERSONAS,
    logger: capturingLogger(),
    rateLimit: false,
    reuse: false,
    ...options,
  } as TokenHandlerOptions);
  const url = `${(await listen("handler-token-size", handler)).url}/api/session-token`;
  /** Mints with the upstream answering `token`. */
  const mint = (token: string) => {
    upstream.emulator.inject({ status: 200, body: JSON.stringify({ sessionToken: token }) });
    return fetch(url, asUser("alice"));
  };
  /** The longest report the browser client sends: an end with its duration and a 256-character reason. */
  const report = (token: string) => fetch(`${url}/usage`, asUser("alice", { token, event: "ended", durationMs: 604_800_000, reason: "r".repeat(256) }));
  return { mint, report };
}

describe("a token longer than the usage route takes back", () => {
  it("with maxBodyBytes 4096: a token of 3,900 characters is a 502, and one at the limit is handed out and its report taken", async () => {
    const { mint, report } = await handlerWith({ maxBodyBytes: 4096 });
    const refused = await mint("x".repeat(3_900));
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { type: string }).type).toBe(problemType("upstream_invalid_response"));

    const limit = maxTokenBytes(4096);
    expect((await mint("x".repeat(limit + 1))).status).toBe(502);
    const fits = await mint("x".repeat(limit));
    expect(fits.status).toBe(200);
    const { token } = (await fits.json()) as { token: string };
    expect((await report(token)).status).toBe(204);
  });

  it("with the default cap, counts UTF-8 bytes: 6,000 euro signs are a 502, 2,000 are handed out and reported", async () => {
    const { mint, report } = await handlerWith();
    expect((await mint("€".repeat(6_000))).status).toBe(502);
    const fits = await mint("€".repeat(2_000));
    expect(fits.status).toBe(200);
    expect((await report(((await fits.json()) as { token: string }).token)).status).toBe(204);
  });

  it("refuses a body cap with no room for a report and its token when the handler is made", () => {
    expect(() => createTokenHandler({ provider: anam.emulated(), authenticate, personas: PERSONAS, maxBodyBytes: 512 })).toThrow(/maxBodyBytes/);
  });
});
