import { Hono } from "hono";
import { serve } from "srvx";
import { sessionTokens } from "../adapters/hono.ts"; // in your app: "tollgate/hono"
import { listening, port, tokenOptions } from "./setup.ts";

// npx tsx examples/hono.ts, bun examples/hono.ts, or deno run -A examples/hono.ts
const { authenticate, ...options } = tokenOptions;
const app = new Hono<{ Variables: { user: { id: string } } }>();

// Your sign-in middleware, whatever it is, puts the user in the context...
app.use("/api/*", async (c, next) => {
  const user = authenticate(c.req.raw);
  if (user) c.set("user", user);
  await next();
});
// ...and the token routes take it from there (c.get("user")).
app.all("/api/session-token/*", sessionTokens(options));

await serve({ fetch: app.fetch, port, silent: true }).ready();
listening("Hono");
