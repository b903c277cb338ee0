import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The package as it would be published: packed with `npm pack` (which builds it), then linted,
 * type-checked and imported the way a user's project would.
 */

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

interface PackageJson {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
}
const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as PackageJson;
const deno = JSON.parse(await readFile(join(root, "deno.json"), "utf8")) as { exports: Record<string, string> };
/** Code exports: every subpath but ./package.json. */
const codeExports = Object.entries(pkg.exports).filter((entry): entry is [string, { types: string; default: string }] => typeof entry[1] === "object");

let work: string;
let tarball: string;
let packed: string[];
/** The unpacked package, installed in a scratch project beside links to this repo's dependencies. */
let consumer: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "tollgate-pack-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [{ filename: string; files: { path: string }[] }];
  tarball = join(work, result.filename);
  packed = result.files.map((file) => file.path).sort();

  consumer = join(work, "consumer");
  const modules = join(consumer, "node_modules");
  await mkdir(join(modules, pkg.name), { recursive: true });
  await run("tar", ["xzf", tarball, "-C", join(modules, pkg.name), "--strip-components=1"]);
  const linked = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), "@types", "typescript"];
  for (const name of new Set(linked.map((dependency) => dependency.split("/")[0]!))) {
    await mkdir(join(modules, name, ".."), { recursive: true });
    await symlink(join(root, "node_modules", name), join(modules, name), "dir").catch(() => {});
  }
  await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("holds the built JavaScript and types and nothing else", () => {
    const stray = packed.filter((path) => !["package.json", "README.md", "LICENSE"].includes(path) && !/^dist\/(src|adapters|server)\/.+\.(js|d\.ts)$/.test(path));
    expect(stray).toEqual([]);
    expect(packed.filter((path) => /\.test\.|\.ts$(?<!\.d\.ts)/.test(path))).toEqual([]);
    // The standalone server's entry, which `bin` names.
    expect(packed).toContain("dist/server/main.js");
  });

  it("holds the JavaScript and the types of every export", () => {
    for (const [subpath, target] of codeExports) {
      expect(packed, `${subpath} types`).toContain(target.types.replace(/^\.\//, ""));
      expect(packed, `${subpath} code`).toContain(target.default.replace(/^\.\//, ""));
    }
  });

  it("passes publint, strictly", async () => {
    const { stdout } = await run(bin("publint"), ["run", tarball, "--strict"]);
    expect(stdout).toContain("All good");
  }, 60_000);

  it("passes Are the Types Wrong for an ESM-only package", async () => {
    // attw exits non-zero on any problem, which rejects here with its report.
    await run(bin("attw"), [tarball, "--profile", "esm-only", "--format", "table-flipped"]);
  }, 60_000);

  it("imports every export under Node from the unpacked package", async () => {
    const script = codeExports.map(([subpath]) => `await import(${JSON.stringify(join(pkg.name, subpath))});`).join("\n");
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", `${script}\nconsole.log("imported");`], { cwd: consumer });
    expect(stdout.trim()).toBe("imported");
  }, 30_000);

  it("type-checks every export in a strict NodeNext project", async () => {
    const lines = codeExports.map(([subpath], i) => `import * as export${i} from ${JSON.stringify(join(pkg.name, subpath))};\nvoid export${i};`);
    // Types must be real, not `any`: a wrong assignment has to be caught.
    lines.push(`import { createTokenHandler } from "${pkg.name}";\n// @ts-expect-error the handler is not a number\nconst wrong: number = createTokenHandler;\nvoid wrong;`);
    await writeFile(join(consumer, "main.ts"), lines.join("\n"));
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
      types: ["node"],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    };
    const program = ts.createProgram([join(consumer, "main.ts")], { ...options, typeRoots: [join(consumer, "node_modules", "@types")] });
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => !d.file || d.file.fileName.includes(`node_modules/${pkg.name}/`) || d.file.fileName.endsWith("main.ts"));
    expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
    // Strict library checking reads the Anam SDK's types too (tollgate/client/anam's peer).
  }, 120_000);
});

describe("Deno", () => {
  it("deno.json exports the same subpaths as package.json, from the same sources", () => {
    const fromPackage = Object.fromEntries(codeExports.map(([subpath, target]) => [subpath, target.default.replace(/^\.\/dist\//, "./").replace(/\.js$/, ".ts")]));
    expect(deno.exports).toEqual(fromPackage);
  });

  it("deno check passes on every entry point", async () => {
    await run(bin("deno"), ["check", ...Object.values(deno.exports)], { cwd: root });
  }, 120_000);
});

describe("the core", () => {
  /** What only one runtime has; src/ must do without, so that it runs unchanged on all of them. */
  const RUNTIME_GLOBALS = new Set(["Bun", "Deno", "process", "Buffer", "require", "__dirname", "__filename", "global", "setImmediate"]);

  async function sourceFiles(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    return entries.filter((entry) => entry.isFile() && /\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)).map((entry) => join(entry.parentPath, entry.name));
  }

  /** Module specifiers and free uses of runtime globals in one file, found by parsing it. */
  function runtimeSpecifics(file: string, text: string): string[] {
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const found: string[] = [];
    const where = (node: ts.Node) => `${relative(root, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const visit = (node: ts.Node) => {
      const specifier =
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
          ? node.moduleSpecifier.text
          : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0]!)
            ? (node.arguments[0] as ts.StringLiteral).text
            : undefined;
      if (specifier !== undefined && (specifier.startsWith("node:") || ["fs", "path", "crypto", "http", "buffer", "stream", "os"].includes(specifier))) {
        found.push(`${where(node)} imports ${specifier}`);
      }
      if (ts.isIdentifier(node) && RUNTIME_GLOBALS.has(node.text)) {
        const parent = node.parent;
        const isMemberName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node) || ts.isPropertySignature(parent) || ts.isMethodDeclaration(parent);
        if (!isMemberName) found.push(`${where(node)} uses ${node.text}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
  }

  it("imports no node: module and uses no Node, Bun or Deno global", async () => {
    const files = await sourceFiles(join(root, "src"));
    expect(files.length).toBeGreaterThan(5);
    const found = (await Promise.all(files.map(async (file) => runtimeSpecifics(file, await readFile(file, "utf8"))))).flat();
    expect(found).toEqual([]);
  });

  it("would notice if it did", () => {
    const found = runtimeSpecifics("x.ts", `import { readFile } from "node:fs/promises";\nconst a = Deno.env.get("A");\nconst b = { process: 1 }.process;\nBuffer.from("");`);
    expect(found).toEqual(["x.ts:1 imports node:fs/promises", "x.ts:2 uses Deno", "x.ts:4 uses Buffer"]);
  });
});
