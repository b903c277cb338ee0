/**
 * The few assertions the contract cases make, without a test framework or `node:assert`, so that
 * they run wherever tollgate runs. Each throws a ContractFailure saying what was expected.
 */

export class ContractFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContractFailure";
  }
}

function show(value: unknown): string {
  if (value === undefined) return "undefined";
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function failure(message: string | undefined, detail: string): ContractFailure {
  return new ContractFailure(message ? `${message}: ${detail}` : detail);
}

export function ok(condition: unknown, message = "expected a condition that did not hold"): asserts condition {
  if (!condition) throw new ContractFailure(message);
}

export function equal(actual: unknown, expected: unknown, message?: string): void {
  if (!Object.is(actual, expected)) throw failure(message, `expected ${show(expected)}, got ${show(actual)}`);
}

/** Equal as JSON values are: the same primitives, arrays in order, objects with the same keys in any order. */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

export function deepEqual(actual: unknown, expected: unknown, message?: string): void {
  if (!same(actual, expected)) throw failure(message, `expected ${show(expected)}, got ${show(actual)}`);
}

export async function rejects(promise: Promise<unknown>, pattern: RegExp, message?: string): Promise<void> {
  let settled: { error: unknown } | undefined;
  try {
    await promise;
  } catch (error) {
    settled = { error };
  }
  if (!settled) throw failure(message, `expected a rejection matching ${pattern}, but it resolved`);
  const text = settled.error instanceof Error ? settled.error.message : String(settled.error);
  if (!pattern.test(text)) throw failure(message, `expected a rejection matching ${pattern}, got ${JSON.stringify(text)}`);
}
