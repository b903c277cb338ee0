import { DEFAULT_MAX_SESSION_SECONDS, parseConfig, tokenUseOf, type TokenUse } from "../src/index.ts";
import type { ServerProfileSpec } from "./profiles.ts";

/**
 * The standalone server's cost bound, stated when it starts: what one user can spend at most,
 * whatever their client reports (docs/cost.md). It holds only where the provider itself ends a
 * session at the ceiling; the other profiles are named as what they are.
 */

export interface ProfileCost {
  name: string;
  /** Whether the provider ends the profile's sessions at the ceiling (Provider.enforcesSessionCeiling). */
  enforced: boolean;
  /**
   * The longest session the provider is told to allow, in seconds: the profile's ceiling under the
   * server's (an hour when neither sets one), never under the provider's floor (AssemblyAI takes no
   * less than 60 s). Undefined when the provider does not enforce one.
   */
  sessionSeconds: number | undefined;
  tokenUse: TokenUse;
}

export interface WorstCase {
  tokensPerWindow: number;
  windowMs: number;
  profiles: ProfileCost[];
  /** Session leases per user at a time, when limited. */
  maxSessions: number | undefined;
}

/** What each profile's sessions may cost, under the server's ceiling. */
export function profileCosts(profiles: Record<string, ServerProfileSpec>, serverCeiling: number | undefined): ProfileCost[] {
  return Object.entries(profiles).map(([name, { provider, config: input, maxSessionSeconds }]) => {
    const config = parseConfig(provider, input);
    const enforcement = provider.enforcesSessionCeiling?.(config) ?? false;
    const ceiling = Math.min(maxSessionSeconds ?? Infinity, serverCeiling ?? DEFAULT_MAX_SESSION_SECONDS);
    const sessionSeconds = enforcement ? Math.max(ceiling, enforcement.minSeconds) : undefined;
    return { name, enforced: enforcement !== false, sessionSeconds, tokenUse: tokenUseOf(provider, config) };
  });
}

/**
 * What one user can spend at most, whatever their client reports: for the profiles whose provider
 * ends a session at the ceiling, every token they may get in a window running the longest session
 * allowed; for the others, that no such bound holds, and how many sessions a token may start.
 */
export function worstCaseLines(worst: WorstCase): string[] {
  const window = formatDuration(worst.windowMs / 1000);
  const tokens = `${worst.tokensPerWindow} tokens per ${window}`;
  const concurrent = worst.maxSessions !== undefined ? `, at most ${worst.maxSessions} at a time while clients report their sessions` : "";
  const enforced = worst.profiles.filter((profile) => profile.enforced);
  const others = worst.profiles.filter((profile) => !profile.enforced);
  const lines: string[] = [];

  if (enforced.length > 0) {
    const at = `worst case per user at ${names(enforced)} (their providers end each session at the ceiling)`;
    const longest = Math.max(...enforced.map((profile) => profile.sessionSeconds!));
    lines.push(`${at}: ${tokens} x ${formatDuration(longest)} sessions = ${formatDuration(worst.tokensPerWindow * longest)} of sessions per ${window}${concurrent}`);
  }
  if (others.length > 0) {
    const single = others.filter((profile) => profile.tokenUse === "single-use");
    const reusable = others.filter((profile) => profile.tokenUse === "reusable");
    const perToken = [
      ...(single.length > 0 ? [`one session per token at ${names(single)}`] : []),
      ...(reusable.length > 0 ? [`any number per token until it expires at ${names(reusable)}`] : []),
    ];
    lines.push(
      `no session ceiling at ${names(others)} (not enforced by the provider, which has no field for one): a session there lasts as long as the provider allows; ${tokens}, ${perToken.join(", ")}${enforced.length === 0 ? concurrent : ""}`,
    );
  }
  return lines;
}

function names(profiles: ProfileCost[]): string {
  return profiles.map((profile) => profile.name).join(", ");
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
