import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";

/**
 * Every response the suite's servers send and every log line its code writes is appended to one
 * file per worker, so that the global teardown can search the whole run for leaked secrets.
 */

declare module "vitest" {
  export interface ProvidedContext {
    trafficDir: string;
  }
}

function record(kind: "response" | "log", entry: Record<string, unknown>) {
  const dir = inject("trafficDir");
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify({ kind, ...entry })}\n`);
}

export async function recordResponse(source: string, response: Response): Promise<void> {
  const body = await response.clone().text();
  record("response", { source, status: response.status, headers: Object.fromEntries(response.headers), body });
}

export function recordLogLine(source: string, line: string): void {
  record("log", { source, line });
}
