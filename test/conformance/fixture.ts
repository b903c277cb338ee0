import { createTokenHandler, type TokenHandler, type TokenHandlerOptions } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { createAnamEmulator, type AnamEmulator, type AnamEmulatorOptions } from "../../src/providers/anam/emulator.ts";

/**
 * A token handler wired to an in-process Anam emulator, with three known users. Only web APIs:
 * the same fixture runs under Node, Bun and Deno.
 */

export const PERSONA = {
  name: "Cara",
  avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
  voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
  llmId: "ANAM_GPT_4O_MINI_V1",
  systemPrompt: "You are Cara. Keep answers short.",
};

/** Bearer credentials the fixture's `authenticate` knows. Mallory is signed in but not allowed. */
export const USERS = { alice: "alice-credential", bob: "bob-credential", mallory: "mallory-credential" } as const;

export const TOKEN_PATH = "/api/session-token";
export const USAGE_PATH = "/api/session-token/usage";

export interface Fixture {
  handler: TokenHandler;
  emulator: AnamEmulator;
  /** Sends `init` to `path`: straight to the handler, or over HTTP when the harness serves it. */
  send(path: string, init?: RequestInit): Promise<Response>;
  /** A JSON POST to the token route as `user` (no Authorization header when `user` is undefined). */
  mint(user: keyof typeof USERS | undefined, body?: unknown): Promise<Response>;
  /** A usage report for `sessionToken` as `user`. */
  report(user: keyof typeof USERS, body: unknown): Promise<Response>;
}

export interface FixtureOptions {
  emulator?: Partial<AnamEmulatorOptions>;
  handler?: Partial<TokenHandlerOptions<{ id: string }>>;
}

/** How a request reaches the handler: in process by default; a harness may put a server between. */
export type Transport = (handler: (request: Request) => Promise<Response>) => Promise<{ origin: string; fetch: typeof fetch; close(): Promise<void> }>;

export const inProcess: Transport = async (handler) => ({
  origin: "http://tollgate.test",
  fetch: ((input: RequestInfo | URL, init?: RequestInit) => handler(new Request(input, init))) as typeof fetch,
  close: async () => {},
});

export async function createFixture(transport: Transport, options: FixtureOptions = {}): Promise<Fixture & { close(): Promise<void> }> {
  const apiKey = "conformance-key";
  const emulator = createAnamEmulator({ apiKey, ...options.emulator });
  const known = new Map(Object.entries(USERS).map(([id, credential]) => [`Bearer ${credential}`, { id }]));
  const handler = createTokenHandler({
    provider: anam({
      apiKey,
      baseUrl: "http://anam-emulator.invalid",
      fetch: (input, init) => emulator.fetch(new Request(input, init)),
      retry: { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, deadlineMs: 5_000 },
    }),
    authenticate: (request) => known.get(request.headers.get("Authorization") ?? ""),
    authorize: (user) => user.id !== "mallory",
    personas: { support: PERSONA },
    logger: { error() {}, warn() {}, info() {} },
    ...options.handler,
  });
  const server = await transport(handler);

  const send = (path: string, init?: RequestInit) => server.fetch(new URL(path, server.origin), init);
  const post = (path: string, user: keyof typeof USERS | undefined, body: unknown) =>
    send(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(user ? { Authorization: `Bearer ${USERS[user]}` } : {}) },
      body: JSON.stringify(body),
    });

  return {
    handler,
    emulator,
    send,
    mint: (user, body = { personaType: "support" }) => post(TOKEN_PATH, user, body),
    report: (user, body) => post(USAGE_PATH, user, body),
    close: server.close,
  };
}
