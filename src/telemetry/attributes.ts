/**
 * Attribute names, in one place so spans, metrics and the docs agree. Standard names come from the
 * OpenTelemetry semantic conventions; the rest live under `tollgate.`. No attribute ever holds the
 * API key, a token (only its short fingerprint) or a raw user id (only with `recordUserIds`).
 */
export const ATTR = {
  errorType: "error.type",
  httpMethod: "http.request.method",
  httpStatus: "http.response.status_code",
  httpResendCount: "http.request.resend_count",
  serverAddress: "server.address",
  serverPort: "server.port",
  urlFull: "url.full",
  /** A short hash of the user's id. */
  userPseudoId: "enduser.pseudo.id",
  /** The raw user id: only when the app opts in with `recordUserIds`. */
  userId: "enduser.id",
  provider: "tollgate.provider",
  profile: "tollgate.profile",
  cacheHit: "tollgate.cache_hit",
  tokenFingerprint: "tollgate.token.fingerprint",
  /** The provider's own id of a token's session, as the client reported it (usage spans). */
  sessionId: "tollgate.session.id",
  /** A session's length in seconds, as the client reported it with `ended` (usage spans). */
  sessionDuration: "tollgate.session.duration",
  attempt: "tollgate.attempt",
  retryDelay: "tollgate.retry.delay",
  duration: "tollgate.duration",
  evictionReason: "tollgate.eviction.reason",
  rateLimitOutcome: "tollgate.rate_limit.outcome",
  rateLimitName: "tollgate.rate_limit.name",
  httpRoute: "http.route",
  /** `4xx` or `5xx`: failures grouped as an alert reads them. */
  statusClass: "tollgate.http.status_class",
  storeOperation: "tollgate.store.operation",
} as const;

/** Names that are safe as attribute values: short, no spaces or punctuation beyond `._-:/`. */
const SAFE_NAME = /^[A-Za-z0-9._:/-]{1,64}$/;

/**
 * Profile names, limit names and error types end up as metric labels. Anything that does not look
 * like a name (free text, or something long enough to be a secret) becomes `other`, which keeps
 * both secrets and unbounded cardinality out of the backend.
 */
export function safeName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return SAFE_NAME.test(value) ? value : "other";
}
