import { decodeJwt } from "jose";

/**
 * When a token says it expires, in epoch ms: its JWT `exp` claim, read without verifying (only the
 * provider can verify it, and the expiry is all we need). Undefined when it is no JWT or has no `exp`.
 */
export function claimedExpiry(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
