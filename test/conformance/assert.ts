/** Just enough assertions for the conformance cases, with no runtime's assert module behind them. */

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function ok(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function equal<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** Checks a response's status, showing its body when it is not the one expected. */
export async function status(response: Response, expected: number): Promise<void> {
  if (response.status !== expected) {
    const body = await response.text().catch(() => "");
    throw new AssertionError(`status: expected ${expected}, got ${response.status} ${body.slice(0, 300)}`);
  }
}

/** Reads an RFC 9457 problem body after checking the status and media type. */
export async function problem(response: Response, expected: number, code: string): Promise<Record<string, unknown>> {
  await status(response, expected);
  equal(response.headers.get("Content-Type"), "application/problem+json", "problem Content-Type");
  const body = (await response.json()) as Record<string, unknown>;
  equal(body.type, `urn:tollgate:error:${code}`, "problem type");
  equal(body.status, expected, "problem status");
  return body;
}
