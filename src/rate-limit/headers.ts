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

/** One policy's item in `RateLimit-Policy`: its quota and window. Fixed for a limit, so made once. */
export function policyItem(name: string, limit: number, windowMs: number): string {
  return `${sfString(name)};q=${limit};w=${Math.max(1, Math.ceil(windowMs / 1000))}`;
}

/** One decision's item in `RateLimit`: what remains and when the quota is whole again. */
function rateLimitItem(decision: RateLimitDecision & { name: string }, now: number): string {
  return `${sfString(decision.name)};r=${Math.max(0, decision.remaining)};t=${Math.max(0, Math.ceil((decision.resetAt - now) / 1000))}`;
}

export function rateLimitPolicyField(decisions: readonly NamedDecision[]): string {
  return decisions.map((d) => policyItem(d.name, d.limit, d.windowMs)).join(", ");
}

export function rateLimitField(decisions: ReadonlyArray<RateLimitDecision & { name: string }>, now: number): string {
  // A loop rather than map and join: nearly every request has one decision, and this is made for each.
  if (decisions.length === 0) return "";
  let field = rateLimitItem(decisions[0]!, now);
  for (let i = 1; i < decisions.length; i++) field += `, ${rateLimitItem(decisions[i]!, now)}`;
  return field;
}

/**
 * The fields for a set of decisions, as a plain record; `Retry-After` is the longest wait any
 * refusal asks for. A record rather than `Headers`: a response takes it in one step, where a
 * `Headers` would be built and then copied.
 */
export function rateLimitFields(decisions: readonly NamedDecision[], now: number): Record<string, string> {
  if (decisions.length === 0) return {};
  return fieldsWithPolicy(rateLimitPolicyField(decisions), decisions, now);
}

/** As `rateLimitFields`, for a caller that keeps its policies' items made already. */
export function fieldsWithPolicy(policyField: string, decisions: ReadonlyArray<RateLimitDecision & { name: string }>, now: number): Record<string, string> {
  const fields: Record<string, string> = {
    "RateLimit-Policy": policyField,
    RateLimit: rateLimitField(decisions, now),
  };
  let retryAfter = -1;
  for (const decision of decisions) if (!decision.allowed && decision.retryAfter > retryAfter) retryAfter = decision.retryAfter;
  if (retryAfter >= 0) fields["Retry-After"] = String(retryAfter);
  return fields;
}

/** The same fields as `Headers`. */
export function rateLimitHeaders(decisions: readonly NamedDecision[], now: number): Headers {
  return new Headers(rateLimitFields(decisions, now));
}
