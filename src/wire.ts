import * as v from "valibot";
import { isWellFormed } from "./canonical.ts";
import { OptionError, ValidationError } from "./errors.ts";

/**
 * The bodies of the two routes, as DESIGN.md's wire contract has them. Everything a browser sends is
 * checked here before it reaches a profile, a limit or a provider.
 */

/** Profile names, as the browser sends them and as the server may declare them. */
export const PROFILE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** A browser tab's opaque id, kept in its `sessionStorage`: reuse is scoped by it. */
export const CLIENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** The longest token the usage route takes back, in characters; a provider answering a longer one is an upstream error. */
export const MAX_TOKEN_CHARS = 8192;
/** The largest request body either route reads, in bytes, unless the handler's `maxBodyBytes` says otherwise. */
const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
/** The smallest body cap that leaves room for a usage report and a token of a useful length. */
const MIN_BODY_BYTES = 1024;

/** A body cap given as `option` (the handler's `maxBodyBytes`, the issuer's `maxReportBytes`), checked; the default when undefined. */
export function bodyCap(option: string, value: number | undefined): number {
  const bytes = value ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(bytes) || bytes < MIN_BODY_BYTES) throw new OptionError(option, `must be a whole number of bytes, at least ${MIN_BODY_BYTES}, room for a usage report and its token`);
  return bytes;
}

/**
 * What a usage report takes besides its token, in UTF-8 bytes as JSON: the longest one the browser
 * client sends, with the longest event, a duration of a week, and a reason (or session id) of 256
 * characters, as the client cuts them. Counted at a byte a character: reasons are error names and
 * messages, and a longer one in another script still has the room a shorter token leaves.
 */
const REPORT_FIELDS_BYTES = utf8Length(JSON.stringify({ token: "", event: "discarded", durationMs: 7 * 24 * 3600 * 1000, reason: "r".repeat(256) }));

/**
 * The longest token, in UTF-8 bytes as it is written in a report's JSON, whose reports a usage route
 * reading at most `maxBodyBytes` takes back; never more than MAX_TOKEN_CHARS.
 */
export function maxTokenBytes(maxBodyBytes: number): number {
  return Math.min(MAX_TOKEN_CHARS, maxBodyBytes - REPORT_FIELDS_BYTES);
}

/** What `token` takes in a report's body, in UTF-8 bytes: its JSON string without the quotes (counted with the other fields). */
export function reportedTokenBytes(token: string): number {
  return utf8Length(JSON.stringify(token)) - 2;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

const ProfileName = v.pipe(v.string(), v.regex(PROFILE_NAME, "must be 1-64 letters, digits, '_', '.' or '-'"));

/** `POST .../session-token`. `personaType` is Anam's guide's name for `profile`; `config` only where the app opts in. */
export const TokenRequestBody = v.strictObject({
  profile: v.optional(ProfileName),
  personaType: v.optional(ProfileName),
  clientId: v.optional(v.pipe(v.string(), v.regex(CLIENT_ID, "must be 1-128 letters, digits, '_' or '-'"))),
  config: v.optional(v.unknown()),
  personaConfig: v.optional(v.unknown()),
});

/** A token as it comes back: text with one UTF-8 form, since its record is found by its digest. */
const ReportedToken = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_TOKEN_CHARS), v.check(isWellFormed, "must be well-formed Unicode"));

/** `POST .../session-token/usage`: what the client saw of the token's session. `sessionToken` is accepted for `token`. */
/** What a client reports of a token's life: its session started, ended or failed, or the token was let go unused. */
export const USAGE_EVENTS = ["started", "ended", "failed", "discarded"] as const;
export type UsageEvent = (typeof USAGE_EVENTS)[number];

export const UsageReportBody = v.strictObject({
  token: v.optional(ReportedToken),
  sessionToken: v.optional(ReportedToken),
  event: v.picklist(USAGE_EVENTS, "must be started, ended, failed or discarded"),
  durationMs: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(7 * 24 * 3600 * 1000))),
  sessionId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  reason: v.optional(v.pipe(v.string(), v.maxLength(256))),
});

export interface TokenRequest {
  profile: string;
  clientId?: string;
  /** A config the browser sent itself, read only when the app opted in. */
  config?: unknown;
}

export interface UsageReport {
  token: string;
  /** `discarded`: the client let the token go without starting a session. */
  event: UsageEvent;
  durationMs?: number;
  sessionId?: string;
  reason?: string;
}

/** The token request, with its two spellings of each field folded into one. */
export function readTokenRequest(body: unknown): TokenRequest {
  const parsed = parseBody(TokenRequestBody, body);
  if (parsed.profile !== undefined && parsed.personaType !== undefined && parsed.profile !== parsed.personaType) {
    throw new ValidationError("profile and personaType name different profiles; send profile alone");
  }
  if (parsed.config !== undefined && parsed.personaConfig !== undefined) throw new ValidationError("send config or personaConfig, not both");
  const profile = parsed.profile ?? parsed.personaType;
  const config = parsed.config ?? parsed.personaConfig;
  if (profile === undefined && config === undefined) throw new ValidationError("profile is required");
  return { profile: profile ?? "", clientId: parsed.clientId, config };
}

/** The usage report, with `sessionToken` read as `token`. */
export function readUsageReport(body: unknown): UsageReport {
  const parsed = parseBody(UsageReportBody, body);
  if (parsed.token !== undefined && parsed.sessionToken !== undefined && parsed.token !== parsed.sessionToken) {
    throw new ValidationError("token and sessionToken differ; send token alone");
  }
  const token = parsed.token ?? parsed.sessionToken;
  if (token === undefined) throw new ValidationError("token is required");
  return { token, event: parsed.event, durationMs: parsed.durationMs, sessionId: parsed.sessionId, reason: parsed.reason };
}

/** Parses a request body with `schema`, or throws a ValidationError listing the problems by path. */
function parseBody<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  // Object schemas take arrays for objects; a body is a JSON object or nothing.
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new ValidationError("Body must be a JSON object");
  const result = v.safeParse(schema, input);
  if (!result.success) {
    throw new ValidationError(
      result.issues
        .map((issue) => {
          const path = v.getDotPath(issue);
          return path ? `${path}: ${issue.message}` : issue.message;
        })
        .join("; "),
    );
  }
  return result.output;
}
