import { mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Every TypeScript block in README.md and docs/*.md, compiled as a user's project would compile it:
 * strict, NodeNext, `tollgate` and its subpaths resolved to this repository's sources. A block
 * that imports nothing continues the block before it in the same file (a recipe's variants). The
 * names a snippet leaves to the app (its sign-in, its personas) are declared in one prelude, typed,
 * so that a snippet still fails on a wrong call.
 */

const root = join(import.meta.dirname, "..", "..");
const deno = JSON.parse(await readFile(join(root, "deno.json"), "utf8")) as { exports: Record<string, string> };

const PRELUDE = `
import type { PersonaConfigInput } from "tollgate/anam";
declare global {
  /** The app's own sign-in: its user for a request, or null. */
  function getSessionUser(request: Request): Promise<{ id: string; canAccessPersonas: boolean } | null>;
  const authenticate: (request: Request) => Promise<{ id: string; canAccessPersonas: boolean } | null>;
  const personas: Record<string, PersonaConfigInput>;
  /** The page's own sign-in and buttons, in the browser snippets. */
  const signIn: { token(): Promise<string> };
  const button: HTMLButtonElement;
  const stopButton: HTMLButtonElement;
}
export {};
`;

interface Block {
  file: string;
  line: number;
  code: string;
}

async function blocks(): Promise<Block[]> {
  const files = ["README.md", ...(await readdir(join(root, "docs"))).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
  const found: Block[] = [];
  for (const file of files) {
    const lines = (await readFile(join(root, file), "utf8")).split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
      const start = i + 1;
      const body: string[] = [];
      for (i = start; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
      const code = body.join("\n");
      const previous = found.at(-1);
      if (previous && previous.file === file && !/^import /m.test(code)) previous.code += `\n{\n${code}\n}`;
      else found.push({ file, line: start, code });
    }
  }
  return found;
}

let work: string | undefined;
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the TypeScript in README.md and docs/", () => {
  it("compiles under strict settings against the package's own types", async () => {
    const found = await blocks();
    expect(found.length).toBeGreaterThanOrEqual(4);
    work = await mkdtemp(join(tmpdir(), "tollgate-docs-"));
    const names = new Map<string, Block>();
    // The blocks import the packages an app has (hono, express, the OpenTelemetry API) from here.
    await symlink(join(root, "node_modules"), join(work, "node_modules"), "dir");
    await writeFile(join(work, "prelude.ts"), PRELUDE);
    for (const [index, block] of found.entries()) {
      const name = join(work, `block-${index}.ts`);
      names.set(name, block);
      // Each block a module of its own, as a file in an app would be.
      await writeFile(name, `${block.code}\nexport {};\n`);
    }
    const paths = Object.fromEntries(Object.entries(deno.exports).map(([subpath, source]) => [subpath.replace(/^\./, "tollgate"), [join(root, source)]]));
    const program = ts.createProgram([join(work, "prelude.ts"), ...names.keys()], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
      types: ["node"],
      typeRoots: [join(root, "node_modules", "@types")],
      strict: true,
      noUncheckedIndexedAccess: true,
      noEmit: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
      paths,
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((diagnostic) => diagnostic.file && names.has(diagnostic.file.fileName))
      .map((diagnostic) => {
        const block = names.get(diagnostic.file!.fileName)!;
        const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        return `${block.file} (block at line ${block.line}, its line ${line + 1}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`;
      });
    expect(problems).toEqual([]);
  }, 60_000);
});
