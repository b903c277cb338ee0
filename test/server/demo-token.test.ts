import { afterAll, describe, expect, it } from "vitest";
import { askForToken, cleanEnv, killLeftovers, startTree } from "../deploy/processes.ts";

// The demo token the server prints on emulators is what a first `curl` sends: it must pass the
// server's own checks, whichever of them the environment turns on.

afterAll(() => killLeftovers());

describe("the demo token printed on emulators", () => {
  it("is accepted with TOLLGATE_JWT_ISSUER and TOLLGATE_JWT_AUDIENCE set", async () => {
    const server = await startTree(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: process.cwd(),
      env: cleanEnv({ HOST: "127.0.0.1", TOLLGATE_JWT_ISSUER: "https://app.example/", TOLLGATE_JWT_AUDIENCE: "tollgate-api", TOLLGATE_JWT_CLAIM: "mayMint" }),
    });
    expect(server.demoToken).toBeDefined();
    const response = await askForToken(server.origin, server.demoToken!, "anam");
    expect(response.status).toBe(200);
    expect(((await response.json()) as { provider: string }).provider).toBe("anam");
    server.child.kill("SIGTERM");
  }, 60_000);
});
