import { setTimeout as sleep } from "node:timers/promises";

/**
 * A fixed window starts on the clock's boundary (each minute for "60/1m", each hour for "10/1h"),
 * so a case that counts one window's admissions sees two windows' worth if it straddles a
 * boundary. This waits for the next window when less than `needMs` of the current one is left,
 * so the case has at least that long inside one window.
 */
export async function clearOfWindowEdge(windowMs: number, needMs = 15_000): Promise<void> {
  if (needMs >= windowMs) throw new RangeError(`a ${windowMs} ms window cannot hold ${needMs} ms`);
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 20);
}
