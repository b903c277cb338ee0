import process from "node:process";
import { cases } from "./cases.ts";
import { inProcess, type Transport } from "./fixture.ts";
import { overHttp, runtimeName } from "./serve.ts";
import { providerCases } from "./provider-cases.ts";
import { serverCases } from "./server-cases.ts";

/**
 * The conformance suite as a plain script, for any runtime:
 *   bun test/conformance/run.ts
 *   deno run -A test/conformance/run.ts
 *   tsx test/conformance/run.ts
 * Every case runs twice: straight into the handler, and through this runtime's HTTP server. The
 * providers on their emulators and the standalone server's routes are checked the same way.
 */

const transports: [string, Transport][] = [
  ["in-process", inProcess],
  ["http", overHttp],
];

let passed = 0;
let failed = 0;
const started = Date.now();
console.log(`tollgate conformance on ${runtimeName()}`);

for (const [transportName, transport] of transports) {
  for (const testCase of [...cases, ...providerCases, ...serverCases]) {
    const label = `${testCase.name} [${transportName}]`;
    try {
      await testCase.run(transport);
      passed++;
      console.log(`ok   ${label}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${label}\n     ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

console.log(`(${Date.now() - started} ms)`);
console.log(`${passed} passed, ${failed} failed`);
// Exit at once: a server a failed case left open must not keep CI waiting.
process.exit(failed > 0 ? 1 : 0);
