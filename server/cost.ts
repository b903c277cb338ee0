/**
 * The standalone server's cost bound, stated when it starts: what one user can spend at most,
 * whatever their client reports (docs/cost.md).
 */

export interface WorstCase {
  tokensPerWindow: number;
  windowMs: number;
  /** The longest session any profile allows, in seconds; undefined when some profile sets none (its provider's own rules). */
  longestSessionSeconds: number | undefined;
  /** Session leases per user at a time, when limited. */
  maxSessions: number | undefined;
}

/** The longest session over every profile: each one's own ceiling under the server's; none when a profile has neither. */
export function longestSession(profileCeilings: Array<number | undefined>, serverCeiling: number | undefined): number | undefined {
  let longest = 0;
  for (const own of profileCeilings) {
    const ceiling = own === undefined ? serverCeiling : serverCeiling === undefined ? own : Math.min(own, serverCeiling);
    if (ceiling === undefined) return undefined;
    longest = Math.max(longest, ceiling);
  }
  return longest;
}

/**
 * What one user can spend at most, whatever their client reports: every token they may get in a
 * window, each running the longest session the providers are told to allow.
 */
export function worstCaseLine(worst: WorstCase): string {
  const window = formatDuration(worst.windowMs / 1000);
  const concurrent = worst.maxSessions !== undefined ? `, at most ${worst.maxSessions} at a time while clients report their sessions` : "";
  if (worst.longestSessionSeconds === undefined) {
    return `worst case per user: ${worst.tokensPerWindow} tokens per ${window}, each as long as its provider allows (set TOLLGATE_MAX_SESSION_SECONDS to cap it)${concurrent}`;
  }
  const total = worst.tokensPerWindow * worst.longestSessionSeconds;
  return `worst case per user: ${worst.tokensPerWindow} tokens per ${window} x ${formatDuration(worst.longestSessionSeconds)} sessions = ${formatDuration(total)} of sessions per ${window}${concurrent}`;
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
