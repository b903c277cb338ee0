import type { Attributes, MeterProvider } from "@opentelemetry/api";
import { ATTR, safeName } from "./attributes.ts";
import { tollgateMeter } from "./scope.ts";

/** Store round trips are milliseconds when healthy and up to a command timeout when not. */
const STORE_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The same store, each of its operations timed as `tollgate.store.operation.duration` (seconds), by
 * operation and, when it threw, `error.type`. Every method is timed, whichever the store has
 * (cache, rate-limit and lease operations alike), so that the wrapper never hides one.
 */
export function instrumentStore<S extends object>(store: S, options: { meterProvider?: MeterProvider } = {}): S {
  const duration = tollgateMeter(options.meterProvider).createHistogram("tollgate.store.operation.duration", {
    unit: "s",
    description: "Time of one operation on the shared store, failures included.",
    advice: { explicitBucketBoundaries: STORE_DURATION_BUCKETS },
  });
  const timed = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      // Closing is not a store operation, and symbols are the runtime's business.
      if (typeof value !== "function" || typeof key !== "string" || key === "close") return value;
      let wrapper = timed.get(key);
      if (!wrapper) {
        const labels: Attributes = { [ATTR.storeOperation]: safeName(key) ?? "other" };
        wrapper = async (...args: unknown[]) => {
          const started = performance.now();
          try {
            const result: unknown = await (value as (...args: unknown[]) => unknown).apply(target, args);
            duration.record((performance.now() - started) / 1000, labels);
            return result;
          } catch (error) {
            duration.record((performance.now() - started) / 1000, { ...labels, [ATTR.errorType]: error instanceof Error ? safeName(error.name) : "unknown" });
            throw error;
          }
        };
        timed.set(key, wrapper);
      }
      return wrapper;
    },
  });
}
