/**
 * The standalone server's listener with short client timeouts, as a script for another runtime
 * (`bun test/defects/slow-clients-listener.ts`): prints `listening on <port>`, then serves a
 * handler that reads the body and answers 200 until it is killed.
 */
import { listen } from "../../server/listen.ts";

const server = await listen(
  async (request) => {
    await request.text();
    return new Response("{}", { headers: { "Content-Type": "application/json" } });
  },
  0,
  "127.0.0.1",
  { headersMs: 1_000, requestMs: 1_000, idleMs: 1_000 },
);
console.log(`listening on ${server.port}`);
