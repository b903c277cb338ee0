import { parseConfig, tokenUseOf, type Provider, type TokenUse } from "../../src/provider.ts";

/**
 * What a provider's demo profile mints: the token's lifetime in seconds, from just before the mint,
 * and its use. Each provider's test holds these to its sources; the through-handler suite, which
 * runs every provider from the server's one list, holds the handler to what the provider gives.
 */
export async function demoToken(provider: Provider<any, any>, demo: unknown): Promise<{ lifetimeSeconds: number; use: TokenUse }> {
  const config = parseConfig(provider, demo);
  const before = Date.now();
  const minted = await provider.mint(config, { signal: AbortSignal.timeout(10_000), user: { id: "demo-user" } });
  return { lifetimeSeconds: (minted.expiresAt - before) / 1000, use: tokenUseOf(provider, config) };
}
