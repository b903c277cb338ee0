import { andThen, canonicalJson, sha256Hex, shortTag, userDigest, type MaybePromise } from "../canonical.ts";
import type { Profile } from "../profiles.ts";
import type { Provider } from "../provider.ts";

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
 * config's own digest standing for the config (the profile worked it out once, its session ceiling
 * included) and the provider instance's digest for the provider. RFC 8785 writes a string as
 * `JSON.stringify` does, and the keys are in the order it sorts them, so the text is put together
 * here rather than serialised. Two tabs of one user (`clientId`) never share a token; a request
 * without a client id is a scope of its own.
 */
export async function requestKeys(profile: Profile, userId: string, clientId: string | undefined): Promise<RequestKeys> {
  const owner = await userDigest(userId);
  const config = await profile.configDigest;
  const provider = await providerDigest(profile.provider);
  const scope = `{"client":${JSON.stringify(clientId ?? null)},"config":"${config}","provider":"${provider}","user":${JSON.stringify(userId)}}`;
  return { owner, user: shortTag(owner), reuseKey: `reuse:${await sha256Hex(scope)}` };
}

const providerDigests = new WeakMap<object, MaybePromise<string>>();

/**
 * The digest of the canonical { identity, name } of a provider instance, worked out once per
 * instance: two providers of one name (two accounts, two LiveKit servers) never share a token. A
 * provider that states no identity is known by its upstream's endpoint (a local signer by its name
 * alone). The identity holds no secret, and only its digest reaches a key.
 */
export function providerDigest(provider: Provider<unknown, unknown>): MaybePromise<string> {
  const known = providerDigests.get(provider);
  if (known !== undefined) return known;
  const digest = Promise.resolve(provider.identity ?? provider.upstream?.endpoint.href ?? null).then((identity) => sha256Hex(canonicalJson({ identity, name: provider.name })));
  providerDigests.set(provider, digest);
  // Once known, the digest itself, so that a cache hit awaits no promise for it.
  digest.then(
    (hex) => providerDigests.set(provider, hex),
    () => providerDigests.delete(provider),
  );
  return digest;
}

/** The key of a token's record: the digest of the token. */
export function recordKey(token: string): MaybePromise<string> {
  return andThen(sha256Hex(token), (hex) => `token:${hex}`);
}
