import { AutoRouter } from "itty-router";
import { serve } from "srvx";
import { createTokenHandler } from "../src/index.ts";
import { listening, port, tokenOptions } from "./setup.ts";

// npx tsx examples/itty-router.ts, bun examples/itty-router.ts, or deno run -A examples/itty-router.ts
const handler = createTokenHandler(tokenOptions);

const router = AutoRouter();
router.all("/api/session-token", handler);
router.all("/api/session-token/usage", handler);

// srvx serves a fetch handler on whichever runtime this is; `export default router` works on Bun and Deno too.
await serve({ fetch: router.fetch, port, silent: true }).ready();
listening("itty-router");
