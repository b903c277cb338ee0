import canonicalize from "canonicalize";

/**
 * A hex SHA-256 over the RFC 8785 canonical JSON of `value`: the same data gives the same digest
 * whatever the order of its keys, and no text is ever rejected (unlike btoa, which throws on
 * characters outside Latin-1). Store keys built from it carry neither a config nor a user id.
 */
export async function digest(value: unknown): Promise<string> {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("Cannot digest a value that has no JSON form");
  return sha256Hex(text);
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

export async function sha256Hex(text: string): Promise<string> {
  const known = memo.get(text);
  if (known !== undefined) return known;
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  let hex = "";
  for (const byte of new Uint8Array(bytes)) hex += byte.toString(16).padStart(2, "0");
  if (text.length <= MEMO_MAX_INPUT_CHARS && !memo.has(text)) remember(text, hex);
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

/** A short, non-reversible name for a token, for logs and telemetry. */
export async function fingerprint(secret: string): Promise<string> {
  return (await sha256Hex(secret)).slice(0, 12);
}

/** What stores remember a user by: a hash of the id, never the id. */
export async function userDigest(userId: string): Promise<string> {
  return sha256Hex(`user:${userId}`);
}

/** How events and logs name a user: a short prefix of the digest. */
export async function userTag(userId: string): Promise<string> {
  return (await userDigest(userId)).slice(0, 12);
}
