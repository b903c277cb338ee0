import { andThen, sha256Hex, shortTag, userDigest, type MaybePromise } from "../canonical.ts";
import type { Profile } from "../profiles.ts";

/**
 * Where the issuer keeps what it knows, in keys that hold no user id, config or token: digests only.
 * The keys carry no prefix; each store adds its own once.
 */

export interface RequestKeys {
  /** The digest of the user id that token records hold. */
  owner: string;
  /** The short tag events carry. */
  user: string;
  /** The reuse cache's key for this provider, config, user and browser tab. */
  reuseKey: string;
}

/**
 * The reuse key is the digest of the canonical JSON of { client, config, provider, user }, with the
 * config's own digest standing for the config (the profile worked it out once). RFC 8785 writes a
 * string as `JSON.stringify` does, and the keys are in the order it sorts them, so the text is put
 * together here rather than serialised. Two tabs of one user (`clientId`) never share a token; a
 * request without a client id is a scope of its own.
 */
export async function requestKeys(profile: Profile, userId: string, clientId: string | undefined): Promise<RequestKeys> {
  const owner = await userDigest(userId);
  const config = await profile.configDigest;
  const scope = `{"client":${JSON.stringify(clientId ?? null)},"config":"${config}","provider":${JSON.stringify(profile.provider.name)},"user":${JSON.stringify(userId)}}`;
  return { owner, user: shortTag(owner), reuseKey: `reuse:${await sha256Hex(scope)}` };
}

/** The key of a token's record: the digest of the token. */
export function recordKey(token: string): MaybePromise<string> {
  return andThen(sha256Hex(token), (hex) => `token:${hex}`);
}
