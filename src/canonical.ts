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

export async function sha256Hex(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  let hex = "";
  for (const byte of new Uint8Array(bytes)) hex += byte.toString(16).padStart(2, "0");
  return hex;
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
