import type { IssuedToken } from "../issuer/index.ts";

/**
 * The token route's answer text: `{ token, expiresAt, provider, profile, ...extra }`, with
 * `expiresAt` in ISO 8601, remembered for the tokens answered most recently. A reused token is
 * answered again and again, and writing its text (JSON.stringify over a long token, twice for
 * Anam's `sessionToken`, and a date) costs more than looking it up: it was the dearest of
 * tollgate's own steps on a cache hit in the CPU profiles under `bench/http.ts`, on Node most of
 * all. Holds at most `max` answers, the oldest forgotten first.
 */
export function tokenAnswers(max = 1_000): (issued: IssuedToken) => string {
  const remembered = new Map<string, { profile: string; expiresAt: number; text: string }>();
  return (issued) => {
    const known = remembered.get(issued.token);
    // One token can answer two profiles that share a config, so the profile must match too.
    if (known && known.profile === issued.profile && known.expiresAt === issued.expiresAt) return known.text;
    const text = JSON.stringify({
      token: issued.token,
      expiresAt: new Date(issued.expiresAt).toISOString(),
      provider: issued.provider,
      profile: issued.profile,
      ...issued.extra,
    });
    if (!known && remembered.size >= max) remembered.delete(remembered.keys().next().value!);
    remembered.set(issued.token, { profile: issued.profile, expiresAt: issued.expiresAt, text });
    return text;
  };
}
