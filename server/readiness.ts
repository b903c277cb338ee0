import { causeChain } from "../src/handler/error-answer.ts";
import type { Logger } from "../src/index.ts";
import type { CacheStore } from "../src/store/types.ts";

/** What a look at the store found. */
export type StoreCheck = { ready: true; ms: number } | { ready: false; reason: string };

/** A store slower than this to answer one read is as good as down for a token request. */
const READINESS_TIMEOUT_MS = 2_000;
/** A read of a key nobody writes: one real round trip, and nothing to clean up. */
const PROBE_KEY = "readiness-probe";

/**
 * Whether the shared store answers, asked afresh each time: `/readyz` turns 503 while it is down
 * and 200 once it is back, without a restart. With no shared store the process is its own store.
 * The log hears of each change (down, then back up) once, however often a probe asks meanwhile.
 */
export function storeReadiness(store: CacheStore | undefined, logger?: Pick<Logger, "error" | "info">): () => Promise<StoreCheck> {
  let wasReady = true;
  return async () => {
    if (!store) return { ready: true, ms: 0 };
    const check = await probe(store);
    if (check.ready !== wasReady) {
      wasReady = check.ready;
      if (check.ready) logger?.info({ ms: check.ms }, "The shared store answers again; GET /readyz answers 200");
      else logger?.error({ cause: check.reason }, "The shared store does not answer; GET /readyz answers 503 until it does");
    }
    return check;
  };
}

async function probe(store: CacheStore): Promise<StoreCheck> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
  });
  try {
    await Promise.race([store.get(PROBE_KEY), timeout]);
    return { ready: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ready: false, reason: causeChain(error) ?? "unknown" };
  } finally {
    clearTimeout(timer);
  }
}
