/**
 * The IETF RateLimit header fields, draft-ietf-httpapi-ratelimit-headers-08, in their structured
 * form: each field is a List with one Item per quota policy, the policy's name as an sf-string.
 *
 *   RateLimit-Policy: "user";q=10;w=3600, "global";q=1000;w=86400
 *   RateLimit: "user";r=3;t=1200, "global";r=870;t=40000
 *
 * plus `Retry-After` (delay-seconds) on a refusal.
 */
import type { RateLimitDecision } from "./types.ts";

export interface NamedDecision extends RateLimitDecision {
  /** The policy's name, as it appears in the header fields. */
  name: string;
  /** The policy's window in ms, for `w`. */
  windowMs: number;
}

/** An sf-string (RFC 8941 §3.3.3): printable ASCII with `"` and `\` escaped. */
function sfString(value: string): string {
  const known = quotedNames.get(value);
  if (known !== undefined) return known;
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError("rate limit: a policy name must be printable ASCII");
  const quoted = `"${value.replace(/[\\"]/g, "\\$&")}"`;
  if (quotedNames.size < MAX_QUOTED_NAMES) quotedNames.set(value, quoted);
  return quoted;
}

/**
 * Policy names already quoted. Every allowed request carries both fields, and the names are the
 * few a limiter was made with, so checking and escaping them again each time is wasted work.
 */
const quotedNames = new Map<string, string>();
const MAX_QUOTED_NAMES = 1_000;

export function rateLimitPolicyField(decisions: readonly NamedDecision[]): string {
  return decisions.map((d) => `${sfString(d.name)};q=${d.limit};w=${Math.max(1, Math.ceil(d.windowMs / 1000))}`).join(", ");
}

export function rateLimitField(decisions: readonly NamedDecision[], now: number): string {
  return decisions
    .map((d) => `${sfString(d.name)};r=${Math.max(0, d.remaining)};t=${Math.max(0, Math.ceil((d.resetAt - now) / 1000))}`)
    .join(", ");
}

/** The fields for a set of decisions; `Retry-After` is the longest wait any refusal asks for. */
export function rateLimitHeaders(decisions: readonly NamedDecision[], now: number): Headers {
  const headers = new Headers();
  if (decisions.length === 0) return headers;
  headers.set("RateLimit-Policy", rateLimitPolicyField(decisions));
  headers.set("RateLimit", rateLimitField(decisions, now));
  const refused = decisions.filter((d) => !d.allowed);
  if (refused.length > 0) headers.set("Retry-After", String(Math.max(...refused.map((d) => d.retryAfter))));
  return headers;
}
