import { createTokenHandler, type TokenHandlerOptions } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { PERSONAS } from "../test/support/personas.ts";

/**
 * The token route as the benchmarks measure it, over the Anam emulator: one user known by a map
 * lookup (an app's own sign-in is not what they measure), one persona, and a per-user rate limit
 * that runs as in any deployment but is never reached.
 */

export const USER_TOKEN = "bench-user";

/** The per-user limit every token route here counts against: as in any deployment, but never reached. */
export const BENCH_LIMITS = [{ name: "user", limit: 1_000_000_000, windowMs: 3_600_000 }];

export function benchTokenRoute(overrides: Partial<TokenHandlerOptions> = {}) {
  const provider = anam.emulated();
  const emulator = provider.emulator!;
  const tokens = createTokenHandler({
    provider,
    authenticate: (request) => (request.headers.get("Authorization") === `Bearer ${USER_TOKEN}` ? { id: "bench-user" } : null),
    // The suites' own persona: its config reaches the token only as a digest, so any config will do.
    personas: { support: PERSONAS.support },
    rateLimit: { limits: BENCH_LIMITS },
    ...overrides,
  });
  return { tokens, emulator };
}
