import { createTokenHandler } from "../src/index.ts";
import { listening, port, tokenOptions } from "./setup.ts";

// deno run --allow-net --allow-env --allow-read examples/deno.ts
// (deno.json opts into Deno's newer request.signal, which aborts only when the client goes away.)
const handler = createTokenHandler(tokenOptions);

Deno.serve({ port, onListen: () => listening("Deno.serve") }, (request) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/api/session-token" || pathname === "/api/session-token/usage") return handler(request);
  return new Response("Not found", { status: 404 });
});
