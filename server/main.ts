import process from "node:process";
import { createServerApp, TOKEN_PATH } from "./app.ts";
import { ConfigError, readConfig } from "./config.ts";
import { listen } from "./listen.ts";
import { startTelemetry } from "./otel.ts";

/** The standalone token server: `npm start`, `bun server/main.ts` or `deno run -A server/main.ts`. */

async function main() {
  const config = readConfig(process.env);
  // Before the app, so that the handler's tracer and meter come from the SDK's providers.
  const telemetry = await startTelemetry(process.env);
  const app = await createServerApp(config, undefined, { prometheusText: telemetry.prometheusText });
  const server = await listen(app.fetch, config.port).catch((error: unknown) => {
    throw isAddressInUse(error) ? new ConfigError(`port ${config.port} is already in use; set PORT to a free one`) : error;
  });
  const origin = `http://localhost:${server.port}`;

  // One write, so that whoever reads the first line also has the rest.
  const banner = [`tollgate: listening on ${origin} (persona types: ${app.personaTypes.join(", ")})`];
  if (app.upstream === "emulator") {
    banner.push(
      "tollgate: ANAM_API_KEY is not set, so tokens come from the built-in Anam emulator; they do not work with the real Anam API.",
      "tollgate: a demo user token, valid for 24 hours. Try:",
      `  curl -s -X POST ${origin}${TOKEN_PATH} -H "Authorization: Bearer ${app.demoUserToken}" -H "Content-Type: application/json" -d '{"personaType":"${app.personaTypes[0]}"}'`,
    );
  } else {
    banner.push(`tollgate: minting tokens from ${config.anamBaseUrl}`);
  }
  if (telemetry.mode !== "off") banner.push(`tollgate: OpenTelemetry ${telemetry.summary}${telemetry.prometheusText ? ` (Prometheus at ${origin}/metrics)` : ""}`);
  console.log(banner.join("\n"));

  // Pending spans and metrics are exported before the process goes. A signal can arrive twice (from
  // the terminal and from a wrapper such as npx or tsx relaying it); the first one does the work.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void Promise.all([server.close(), app.close()]).finally(() => telemetry.shutdown().finally(() => process.exit(0)));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(`tollgate: ${error instanceof ConfigError || error instanceof TypeError ? error.message : "failed to start"}`);
  process.exit(1);
});

/** Node and Bun give the code EADDRINUSE; Deno throws `Deno.errors.AddrInUse`. */
function isAddressInUse(error: unknown): boolean {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return code === "EADDRINUSE" || name === "AddrInUse";
}
