import process from "node:process";
import { listen, listenThroughSrvx } from "../server/listen.ts";
import { createRateLimiter, type HandlerRateLimitContext, type RateLimitCheck, type RateLimiter } from "../src/index.ts";
import { BENCH_LIMITS, USER_TOKEN, benchTokenRoute } from "./setup.ts";

/**
 * The benchmark's servers, started under the runtime being measured (`bench/http.ts` does that):
 * the token route, a bare handler answering the same JSON, the floor that any token route pays
 * (credentials and body read, four header fields sent), and a control port for the driver. With
 * `--parts`, four more that split the token route's cost: the floor without the two rate-limit
 * fields, the token route without rate limits, the token route with a limiter that answers a
 * fixed result with the usual fields, and the token route with its usual limits whose 200 goes
 * without the two fields. Each is served as the standalone server serves (`Deno.serve`
 * on Deno, srvx elsewhere), or with `--srvx` through srvx on every runtime. Prints one JSON line with
 * the ports once they listen.
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

const handlers: Record<string, (request: Request) => Promise<Response>> = { tollgate: tokens, bare, floor, control };

if (process.argv.includes("--parts")) {
  handlers.floorJsonHeadersOnly = async (request) => {
    if (request.headers.get("Authorization") !== `Bearer ${USER_TOKEN}`) return new Response(null, { status: 401 });
    JSON.parse(await request.text());
    return new Response(bareBody, { headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
  };
  handlers.tollgateNoRateLimit = benchTokenRoute({ rateLimit: false }).tokens;
  const fixedCheck = { allowed: true, decisions: [], fields: { "RateLimit-Policy": rateLimitPolicy, RateLimit: rateLimit } };
  const fixedLimiter = { limits: [], check: async () => fixedCheck } as unknown as RateLimiter<HandlerRateLimitContext>;
  handlers.tollgateFixedLimiter = benchTokenRoute({ rateLimit: fixedLimiter }).tokens;
  // The usual limiter, but an allowed request's answer goes without the two fields: what they cost a 200.
  const limiter = createRateLimiter<HandlerRateLimitContext>({ limits: BENCH_LIMITS });
  const fieldsOnRefusalOnly: RateLimiter<HandlerRateLimitContext> = {
    limits: limiter.limits,
    async check(context) {
      const check = await limiter.check(context);
      return check.allowed ? ({ ...check, fields: {} } as RateLimitCheck) : check;
    },
  };
  handlers.tollgateFieldsOnRefusal = benchTokenRoute({ rateLimit: fieldsOnRefusalOnly }).tokens;
}

const serveCase = process.argv.includes("--srvx") ? listenThroughSrvx : listen;
const ports: Record<string, number | string> = { userToken: USER_TOKEN };
for (const [name, fetch] of Object.entries(handlers)) ports[name] = (await serveCase(fetch, 0, "127.0.0.1")).port;
console.log(JSON.stringify(ports));
