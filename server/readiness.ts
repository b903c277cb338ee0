import { causeChain } from "../src/handler/error-answer.ts";
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
 */
export function storeReadiness(store: CacheStore | undefined): () => Promise<StoreCheck> {
  return async () => {
    if (!store) return { ready: true, ms: 0 };
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
  };
}
