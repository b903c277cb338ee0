import { serve } from "srvx";
import { USER_TOKEN, benchTokenRoute } from "./setup.ts";

/**
 * The benchmark's servers, started under the runtime being measured (`bench/http.ts` does that):
 * the token route, a bare handler answering the same JSON, the floor that any token route pays
 * (credentials and body read, four header fields sent), and a control port for the driver.
 * Prints one JSON line with the ports once they listen.
 */

const { tokens, emulator } = benchTokenRoute();

// The bare handler answers what a cache hit answers, with the same headers, and does nothing else.
const first = await tokens(
  new Request("http://bench/api/session-token", {
    method: "POST",
    headers: { Authorization: `Bearer ${USER_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ personaType: "support" }),
  }),
);
const { sessionToken, expiresAt } = (await first.json()) as { sessionToken: string; expiresAt: string };
const bareBody = JSON.stringify({ sessionToken, expiresAt });
const bare = async () => new Response(bareBody, { headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });

// The floor: what any token route pays before its own logic. It reads the credentials and the JSON
// body, and answers the same JSON with the same four header fields the token route sends.
const rateLimitPolicy = first.headers.get("RateLimit-Policy")!;
const rateLimit = first.headers.get("RateLimit")!;
const floor = async (request: Request) => {
  if (request.headers.get("Authorization") !== `Bearer ${USER_TOKEN}`) return new Response(null, { status: 401 });
  JSON.parse(await request.text());
  return new Response(bareBody, {
    headers: { "RateLimit-Policy": rateLimitPolicy, RateLimit: rateLimit, "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
};

const control = async () => Response.json({ ...emulator.stats });

const options = { hostname: "127.0.0.1", port: 0, silent: true, gracefulShutdown: false } as const;
const servers = await Promise.all([tokens, bare, floor, control].map((fetch) => serve({ ...options, fetch }).ready()));
const ports = servers.map((server) => Number(new URL(server.url!).port));
console.log(JSON.stringify({ tollgate: ports[0], bare: ports[1], floor: ports[2], control: ports[3], userToken: USER_TOKEN }));
