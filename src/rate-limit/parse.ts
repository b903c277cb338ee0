/**
 * Parses the short form used by TOLLGATE_RATE_LIMIT: `<limit>/<window>`, the window a number and a
 * unit (`ms`, `s`, `m`, `h`, `d`), the number optional: `10/1h`, `10/h`, `100/30m`, `5/10s`.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const SHORT_FORM = /^\s*(\d+)\s*\/\s*(\d+)?\s*(ms|s|m|h|d)\s*$/;

export function parseRateLimit(text: string): { limit: number; windowMs: number } {
  const match = SHORT_FORM.exec(text);
  if (!match) {
    throw new TypeError(`rate limit ${JSON.stringify(text)} is not of the form <limit>/<window>, like 10/1h or 100/30m`);
  }
  const limit = Number(match[1]);
  const windowMs = Number(match[2] ?? "1") * UNIT_MS[match[3] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`rate limit ${JSON.stringify(text)}: the limit must be at least 1`);
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new TypeError(`rate limit ${JSON.stringify(text)}: the window must be at least 1 ms`);
  return { limit, windowMs };
}
