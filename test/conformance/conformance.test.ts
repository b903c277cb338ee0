import { describe, it } from "vitest";
import { cases } from "./cases.ts";
import { inProcess } from "./fixture.ts";
import { overHttp } from "./serve.ts";
import { providerCases } from "./provider-cases.ts";
import { serverCases } from "./server-cases.ts";

// The conformance suite under vitest on Node; run.ts runs the same cases under Bun and Deno.
for (const [name, transport] of [["in-process", inProcess], ["node:http", overHttp]] as const) {
  describe(`conformance (${name})`, () => {
    for (const testCase of [...cases, ...providerCases, ...serverCases]) it(testCase.name, () => testCase.run(transport));
  });
}
