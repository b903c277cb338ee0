import { readFile } from "node:fs/promises";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// tsc on typed-options.fixture.ts, as the project compiles it: every mistake marked there is
// refused, and without the markers tsc names each misspelt field.

const root = join(import.meta.dirname, "..", "..");
const fixture = join(import.meta.dirname, "typed-options.fixture.ts");

function diagnosticsOf(text: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const host = ts.createCompilerHost(config.options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => (name === fixture ? text : read(name));
  const program = ts.createProgram([fixture], config.options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName === fixture)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, " "));
}

describe("options typed by each provider's config", () => {
  it("compile with every mistake marked, so each marker is needed", async () => {
    expect(diagnosticsOf(await readFile(fixture, "utf8"))).toEqual([]);
  }, 60_000);

  it("fail tsc, naming the misspelt field, without the markers", async () => {
    const unmarked = (await readFile(fixture, "utf8")).replace(/\/\/ @ts-expect-error.*\n/g, "\n");
    const text = diagnosticsOf(unmarked).join("\n");
    for (const typo of ["systemPromt", "avatarID", "sesion", "plann"]) expect(text).toContain(`'${typo}'`);
  }, 60_000);
});
