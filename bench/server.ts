import process from "node:process";
import { listen, listenThroughSrvx } from "../server/listen.ts";
import type { HandlerRateLimitContext, RateLimiter } from "../src/index.ts";
import { USER_TOKEN, benchTokenRoute } from "./setup.ts";

/**
 * The benchmark's servers, started under the runtime being measured (`bench/http.ts` does that):
 * the token route, a bare handler answering the same JSON, the floor that any token route pays
 * (credentials and body read, the token route's header fields sent), and a control port for the
 * driver. With `--parts`, four more that split the token route's cost: the token route without rate
 * limits, the token route with a limiter that answers a fixed result, the token route with
 * `rateLimitFieldsOnSuccess` (its 200 carries `RateLimit` and `RateLimit-Policy`), and the floor
 * with those two fields as well. Each is served as the standalone server serves (`Deno.serve` on
 * Deno, srvx elsewhere), or with `--srvx` through srvx on every runtime. Prints one JSON line with
 * the ports once they listen.
 */

const { tokens, emulator } = benchTokenRoute();

const tokenRequest = () =>
  new Request("http://bench/api/session-token", {
    method: "POST",
    headers: { Authorization: `Bearer ${USER_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ profile: "support" }),
  });
const first = await tokens(tokenRequest());
const bareBody = await first.text();
// The bare handler answers what a cache hit answers, with the same headers, and does nothing else.
const bare = async () => new Response(bareBody, { headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });

// The floor: what any token route pays before its own logic. It reads the credentials and the JSON
// body, and answers the same JSON with the header fields the token route sends.
const floorWith = (headers: Record<string, string>) => async (request: Request) => {
  if (request.headers.get("Authorization") !== `Bearer ${USER_TOKEN}`) return new Response(null, { status: 401 });
  JSON.parse(await request.text());
  return new Response(bareBody, { headers });
};
const tokenRouteHeaders = { "Content-Type": "application/json", "Cache-Control": "no-store" };
const floor = floorWith(tokenRouteHeaders);

const control = async () => Response.json({ ...emulator.stats });

const handlers: Record<string, (request: Request) => Promise<Response>> = { tollgate: tokens, bare, floor, control };

if (process.argv.includes("--parts")) {
  handlers.tollgateNoRateLimit = benchTokenRoute({ rateLimit: false }).tokens;
  const fixedCheck = { allowed: true, decisions: [], fields: {} };
  const fixedLimiter = { limits: [], check: async () => fixedCheck } as unknown as RateLimiter<HandlerRateLimitContext>;
  handlers.tollgateFixedLimiter = benchTokenRoute({ rateLimit: fixedLimiter }).tokens;
  // The same limits, with the two fields on every 200, and the floor that sends them too.
  const withFields = benchTokenRoute({ rateLimitFieldsOnSuccess: true }).tokens;
  const sample = await withFields(tokenRequest());
  handlers.tollgateFieldsOnSuccess = withFields;
  handlers.floorWithRateLimitFields = floorWith({
    "RateLimit-Policy": sample.headers.get("RateLimit-Policy")!,
    RateLimit: sample.headers.get("RateLimit")!,
    ...tokenRouteHeaders,
  });
}

const serveCase = process.argv.includes("--srvx") ? listenThroughSrvx : listen;
const ports: Record<string, number | string> = { userToken: USER_TOKEN };
for (const [name, fetch] of Object.entries(handlers)) ports[name] = (await serveCase(fetch, 0, "127.0.0.1")).port;
console.log(JSON.stringify(ports));
