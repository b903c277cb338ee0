/**
 * The size a browser downloads for tollgate/client and its hooks: each entry bundled by esbuild for
 * the browser, minified, then gzipped (level 9) and brotli-compressed. The SDKs the hooks drive
 * (`@anam-ai/js-sdk`, `livekit-client`) are the app's own and left out of the count.
 *
 *   npx tsx bench/client-size.ts
 */
import { build } from "esbuild";
import { cpus, totalmem } from "node:os";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const ENTRIES = {
  "tollgate/client": "src/client/index.ts",
  "tollgate/client/anam": "src/client/anam.ts",
  "tollgate/client/livekit": "src/client/livekit.ts",
  "tollgate/client/openai": "src/client/openai.ts",
};

console.log(`${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, esbuild, Node ${process.version}`);
console.log("entry                      minified   gzip   brotli  (bytes; own code only, SDKs external)");
for (const [name, entry] of Object.entries(ENTRIES)) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    external: ["@anam-ai/js-sdk"],
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.contents;
  const gzip = gzipSync(code, { level: 9 }).length;
  const brotli = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  console.log(`${name.padEnd(26)} ${String(code.length).padStart(8)} ${String(gzip).padStart(6)} ${String(brotli).padStart(8)}`);
}
