import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { TEST_API_KEY } from "./support/servers.ts";

/**
 * The run-wide leak check: after every suite has run, no response, header or log line of the
 * whole run may hold the API key, and no log line may hold a token that was issued.
 */
export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-traffic-"));
  project.provide("trafficDir", dir);

  return () => {
    const entries = readdirSync(dir).flatMap((file) =>
      readFileSync(join(dir, file), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => ({ line, entry: JSON.parse(line) as { kind: string; body?: string; line?: string } })),
    );
    rmSync(dir, { recursive: true, force: true });
    if (entries.length === 0) return;

    const leaks = entries.filter(({ line }) => line.includes(TEST_API_KEY));
    const tokens = new Set<string>();
    for (const { entry } of entries) {
      if (entry.kind !== "response" || !entry.body?.includes("oken")) continue;
      const answer = parsedOrNull(entry.body);
      // Fault rehearsals send junk such as 42 or ""; only a real token's text is worth searching for.
      for (const token of [answer?.token, answer?.sessionToken]) if (typeof token === "string" && token.length >= 16) tokens.add(token);
    }
    const logged = entries.filter(({ entry }) => entry.kind === "log" && [...tokens].some((token) => entry.line!.includes(token)));
    if (leaks.length > 0 || logged.length > 0) {
      // A teardown that throws is reported but leaves the exit status alone, so set it as well.
      process.exitCode = 1;
      throw new Error(
        `Secrets leaked: the API key in ${leaks.length} of ${entries.length} recorded responses and log lines; ` +
          `an issued session token in ${logged.length} log lines.\n${[...leaks, ...logged].slice(0, 3).map((l) => l.line.slice(0, 300)).join("\n")}`,
      );
    }
    console.log(`leak check: ${entries.length} responses and log lines, ${tokens.size} issued tokens, no API key, no token in a log line`);
  };
}

function parsedOrNull(text: string): { token?: unknown; sessionToken?: unknown } | null {
  try {
    return JSON.parse(text) as { token?: unknown; sessionToken?: unknown } | null;
  } catch {
    return null;
  }
}
