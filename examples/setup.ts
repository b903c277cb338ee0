import process from "node:process";
import { type TokenHandlerOptions } from "../src/index.ts"; // in your app: "tollgate"
import { anam } from "../src/providers/anam/index.ts"; // in your app: "tollgate/anam"

/**
 * What the examples share: Anam as the provider (or, with no ANAM_API_KEY, the built-in emulator,
 * so they run offline), a stand-in sign-in, and one persona. Each example is about one runtime or
 * router; this file is the part that would be yours.
 */

export const port = Number(process.env.PORT ?? 8787);

function provider() {
  const apiKey = process.env.ANAM_API_KEY;
  if (apiKey) return anam({ apiKey });
  console.log("ANAM_API_KEY is not set: tokens come from the built-in Anam emulator.");
  return anam.emulated();
}

/** Stands in for your app's session check: one demo user, known by a fixed bearer token. */
export const DEMO_USER_TOKEN = "demo-user-token";

export function authenticate(request: Request) {
  return request.headers.get("Authorization") === `Bearer ${DEMO_USER_TOKEN}` ? { id: "demo-user" } : null;
}

export const personas = {
  support: {
    name: "Cara",
    avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
    voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
    llmId: "ANAM_GPT_4O_MINI_V1",
    systemPrompt: "You are Cara, a helpful support agent. Keep answers short.",
  },
};

/** Each user may mint 10 tokens an hour (the default, spelled out); the 11th is a 429. */
const rateLimit = { limits: [{ name: "user", limit: 10, windowMs: 60 * 60 * 1000 }] };

/** The origin that serves examples/pages/ (`PAGE_ORIGIN`), allowed to call from the browser. */
const cors = { origins: [process.env.PAGE_ORIGIN ?? "http://localhost:5173"] };

/** The options every example passes to `createTokenHandler` (the Hono one leaves out `authenticate`). */
export const tokenOptions = { provider: provider(), authenticate, personas, rateLimit, cors } satisfies TokenHandlerOptions;

export function listening(where: string) {
  console.log(`Listening on http://localhost:${port} (${where}). Try:`);
  console.log(
    `  curl -X POST http://localhost:${port}/api/session-token -H "Authorization: Bearer ${DEMO_USER_TOKEN}" -H "Content-Type: application/json" -d '{"profile":"support"}'`,
  );
}
