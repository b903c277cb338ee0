import canonicalize from "canonicalize";

/**
 * A hex SHA-256 over the RFC 8785 canonical JSON of `value`: the same data gives the same digest
 * whatever the order of its keys, and no text is ever rejected (unlike btoa, which throws on
 * characters outside Latin-1). Store keys built from it carry neither a config nor a user id.
 */
export async function digest(value: unknown): Promise<string> {
  return await sha256Hex(canonicalJson(value));
}

/** The RFC 8785 canonical JSON of `value`; a TypeError when it has no JSON form. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("Cannot digest a value that has no JSON form");
  return text;
}

/**
 * Digests already computed, by their input. A cache hit hashes the same user id, config and token
 * as the request before it, and WebCrypto's digest is asynchronous and far dearer than a lookup
 * (on Node each one is a trip through the thread pool). Bounded by the text it holds; the oldest
 * entries go first.
 */
const MEMO_MAX_CHARS = 1_000_000;
const MEMO_MAX_INPUT_CHARS = 16_384;
const memo = new Map<string, string>();
let memoChars = 0;

/** A value now, or a promise of it: what the helpers below give, so that `await` works on both. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The hex SHA-256 of `text`. A digest remembered from before comes back as it is, not wrapped in a
 * promise: a cache hit asks for several, and each promise and `await` frame is memory that the
 * garbage collector must clear on every request.
 */
export function sha256Hex(text: string): MaybePromise<string> {
  return memo.get(text) ?? computeSha256Hex(text);
}

/** A UTF-16 surrogate that is not half of a pair: text that has no UTF-8 form. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `text` is well-formed Unicode, and so has one UTF-8 form of its own. */
export const isWellFormed = (text: string) => !LONE_SURROGATE.test(text);

async function computeSha256Hex(text: string): Promise<string> {
  // TextEncoder writes a lone surrogate as U+FFFD, so two such texts (two user ids) would share a digest.
  if (!isWellFormed(text)) throw new TypeError("Cannot digest text that is not well-formed Unicode (it holds a lone surrogate)");
  const hex = await unrememberedSha256Hex(text);
  if (text.length <= MEMO_MAX_INPUT_CHARS && !memo.has(text)) remember(text, hex);
  return hex;
}

/** The hex SHA-256 of `text`, kept in no memo: for a secret, such as an API key, whose digest is all that may be kept. */
export async function unrememberedSha256Hex(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  let hex = "";
  for (const byte of new Uint8Array(bytes)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function remember(text: string, hex: string) {
  memo.set(text, hex);
  memoChars += text.length;
  for (const oldest of memo.keys()) {
    if (memoChars <= MEMO_MAX_CHARS) break;
    memo.delete(oldest);
    memoChars -= oldest.length;
  }
}

/** `then` for a MaybePromise: runs `next` at once on a value, after it on a promise. */
export function andThen<T, U>(value: MaybePromise<T>, next: (value: T) => U): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

const TAG_LENGTH = 12;

/** The short name events and logs use for a digest: its first characters. */
export const shortTag = (hex: string) => hex.slice(0, TAG_LENGTH);

/** A short, non-reversible name for a token, for logs and telemetry. */
export function fingerprint(secret: string): MaybePromise<string> {
  return andThen(sha256Hex(secret), shortTag);
}

/** What stores remember a user by: a hash of the id, never the id. */
export function userDigest(userId: string): MaybePromise<string> {
  return sha256Hex(`user:${userId}`);
}

/** How events and logs name a user: the short tag of its digest. */
export function userTag(userId: string): MaybePromise<string> {
  return andThen(userDigest(userId), shortTag);
}
