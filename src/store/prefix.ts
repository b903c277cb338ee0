/**
 * The one rule for a store's key prefix, shared by every adapter. The characters are the ones every
 * backend keeps as they are: no spaces, no braces (a Redis Cluster hash tag), no `/` or `?` (which
 * unstorage rewrites), so that a prefix names the same keys wherever it is used.
 */
import { OptionError } from "../errors.ts";

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The default prefix when none is given. */
export const DEFAULT_PREFIX = "tollgate";

/**
 * `prefix`, checked, or the default when it is `undefined`. `option` names the option in the
 * OptionError, for example `"redisStore: prefix"`.
 */
export function checkPrefix(option: string, prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new OptionError(option, `must be 1 to 64 letters, digits, '_', '.', ':' or '-' (got ${typeof prefix === "string" ? JSON.stringify(prefix) : typeof prefix})`);
  }
  return prefix;
}
