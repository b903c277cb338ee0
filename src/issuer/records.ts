import type { TokenExtra, TokenUse } from "../provider.ts";
import type { SpanReference } from "../telemetry/links.ts";

/**
 * What the issuer remembers of every token it handed out, under the token's digest: who owns it,
 * where it is cached for reuse, and what its client reported. A record is kept until the token's
 * expiry plus the longest session, so that a session which outlives its token can still be ended.
 */
export interface TokenRecord {
  /** The digest of the owner's user id. */
  owner: string;
  reuseKey: string;
  provider: string;
  profile: string;
  tokenUse: TokenUse;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** The longest session it may start, in ms: the record outlives the token by this much. */
  maxSessionMs: number;
  started?: boolean;
  ended?: boolean;
  failed?: boolean;
  /** Let go by its client without a session: out of the cache, its lease given back. */
  discarded?: boolean;
  /** The provider's id of the session it started, as the client reported it. */
  sessionId?: string;
  /** The id of the session lease it holds, when the issuer has leases. */
  lease?: string;
  /** The span that minted it, so that the spans of its reports can link back to it. */
  mintedBy?: SpanReference;
}

/** What the reuse cache holds under a request's key: enough to answer again without the upstream. */
export interface ReusableToken {
  token: string;
  expiresAt: number;
  extra?: TokenExtra;
}

/** How long a record is kept from `now`: past the token's expiry by the longest session. */
export function recordTtlMs(record: Pick<TokenRecord, "expiresAt" | "maxSessionMs">, now: number): number {
  return Math.max(1, record.expiresAt + record.maxSessionMs - now);
}
