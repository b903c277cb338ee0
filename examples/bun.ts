import { createTokenHandler } from "../src/index.ts";
import { listening, port, tokenOptions } from "./setup.ts";

// bun examples/bun.ts
const handler = createTokenHandler(tokenOptions);

Bun.serve({
  port,
  // The handler answers every method itself (405 for all but POST), so it takes the whole route;
  // `{ POST: handler }` works too, if you would rather Bun answered the other methods.
  routes: {
    "/api/session-token": handler,
    "/api/session-token/usage": handler,
  },
  fetch: () => new Response("Not found", { status: 404 }),
});
listening("Bun.serve");
