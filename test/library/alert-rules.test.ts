import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// The alert rules in docs/observability.md, checked by Prometheus's own promtool.

const root = join(import.meta.dirname, "..", "..");

describe("the alert rules in docs/observability.md", () => {
  it("pass promtool check rules", async () => {
    const doc = await readFile(join(root, "docs", "observability.md"), "utf8");
    const section = doc.slice(doc.indexOf("### Alert rules worth copying"));
    const rules = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(rules).toContain("groups:");
    const dir = await mkdtemp(join(tmpdir(), "tollgate-rules-"));
    try {
      await writeFile(join(dir, "tollgate.rules.yml"), rules!);
      const { stdout } = await promisify(execFile)("promtool", ["check", "rules", join(dir, "tollgate.rules.yml")]);
      expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
