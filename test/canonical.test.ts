import { describe, expect, it } from "vitest";
import { andThen, fingerprint, sha256Hex, userTag } from "../src/canonical.ts";

// A remembered digest comes back as a plain string, a new one as a promise; both are the same hex.

describe("sha256Hex", () => {
  it("answers a new text with a promise and a remembered one at once, with the same digest", async () => {
    const text = `tollgate canonical test ${Math.random()}`;
    const first = sha256Hex(text);
    expect(first).toBeInstanceOf(Promise);
    const hex = await first;
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256Hex(text)).toBe(hex);
    // The digest of "abc" from FIPS 180-2, so the memo cannot be hiding a wrong hash.
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("derives fingerprints and user tags from the same digest, new or remembered", async () => {
    const secret = `secret-${Math.random()}`;
    const fresh = await fingerprint(secret);
    expect(fresh).toBe((await sha256Hex(secret)).slice(0, 12));
    expect(fingerprint(secret)).toBe(fresh);
    const tag = await userTag("user-42");
    expect(tag).toBe((await sha256Hex("user:user-42")).slice(0, 12));
    expect(userTag("user-42")).toBe(tag);
  });
});

describe("andThen", () => {
  it("runs the next step at once on a value and after it on a promise", async () => {
    expect(andThen(2, (n) => n * 3)).toBe(6);
    const later = andThen(Promise.resolve(2), (n) => n * 3);
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toBe(6);
  });
});
