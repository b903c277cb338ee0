import process from "node:process";
import { PERSONAS } from "../test/support/personas.ts";
import { USER_TOKEN, benchTokenRoute } from "./setup.ts";

/**
 * The cache-hit path in process, without HTTP: a loop that builds a `Request`, calls the handler
 * and reads the answer, beside the same loop around a bare handler that answers the same JSON.
 * The difference between the two is what tollgate's steps cost per request on this runtime. Runs
 * under Node (through tsx), Bun and Deno; prints microseconds per request, the median of the rounds.
 *
 *   npx tsx bench/in-process.ts
 *   node_modules/.bin/bun bench/in-process.ts
 *   node_modules/.bin/deno run --allow-env --allow-read bench/in-process.ts
 *   PROMPT_CHARS=20000 npx tsx bench/in-process.ts   # a persona with a system prompt this long
 */

const ROUNDS = 9;
const REQUESTS_PER_ROUND = 20_000;

const promptChars = Number(process.env.PROMPT_CHARS ?? 0);
const { tokens, emulator } = benchTokenRoute(promptChars > 0 ? { personas: { support: { ...PERSONAS.support, systemPrompt: "x".repeat(promptChars) } } } : {});

const tokenRequest = () =>
  new Request("http://127.0.0.1/api/session-token", {
    method: "POST",
    headers: { Authorization: `Bearer ${USER_TOKEN}`, "Content-Type": "application/json", "Content-Length": "21" },
    body: '{"profile":"support"}',
  });

const filled = await tokens(tokenRequest());
const bareBody = await filled.text();
const bare = async (_request: Request) => new Response(bareBody, { headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });

/** CPU time rather than wall time: on a shared machine the wall clock also counts other tenants. */
const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

async function round(handler: (request: Request) => Promise<Response>): Promise<number> {
  const started = cpuMicros();
  for (let i = 0; i < REQUESTS_PER_ROUND; i++) {
    const response = await handler(tokenRequest());
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    await response.text();
  }
  return (cpuMicros() - started) / REQUESTS_PER_ROUND;
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
const times = { bare: [] as number[], tollgate: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  times.bare.push(await round(bare));
  times.tollgate.push(await round(tokens));
}
if (emulator.stats.tokensIssued !== 1) throw new Error(`${emulator.stats.tokensIssued} upstream mints; expected only cache hits`);
const [bareUs, tollgateUs] = [median(times.bare), median(times.tollgate)];
console.log(`bare ${bareUs.toFixed(1)} µs, token route ${tollgateUs.toFixed(1)} µs, tollgate's steps ${(tollgateUs - bareUs).toFixed(1)} µs a request`);
