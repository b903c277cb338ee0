import process from "node:process";
import { createServerApp, TOKEN_PATH } from "./app.ts";
import { worstCaseLine } from "./cost.ts";
import { ConfigError, readConfig } from "./config.ts";
import { listen } from "./listen.ts";
import { startTelemetry } from "./otel.ts";

/** The standalone token server: `npm start`, `bun server/main.ts` or `deno run -A server/main.ts`. */

async function main() {
  const config = readConfig(process.env);
  // Before the app, so that the handler's tracer and meter come from the SDK's providers.
  const telemetry = await startTelemetry(process.env);
  const app = await createServerApp(config, undefined, { prometheusText: telemetry.prometheusText });
  const server = await listen(app.fetch, config.port, config.host).catch((error: unknown) => {
    throw isAddressInUse(error) ? new ConfigError(`port ${config.port} is already in use; set PORT to a free one`) : error;
  });
  const origin = `http://localhost:${server.port}`;

  // One write, so that whoever reads the first line also has the rest.
  const banner = [`tollgate: listening on ${origin}`, "tollgate: profiles:"];
  for (const profile of app.profiles) banner.push(`  ${profile.name} -> ${profile.provider}${profile.emulated ? " (emulator)" : ""}`);
  const emulated = [...new Set(app.profiles.filter((profile) => profile.emulated).map((profile) => profile.provider))];
  if (emulated.length > 0) {
    banner.push(`tollgate: no API key for ${emulated.join(", ")}, so those tokens come from built-in emulators; they do not work with the real APIs.`);
  }
  if (app.demoUserToken) {
    const first = app.profiles[0]!.name;
    banner.push(
      "tollgate: a demo user token, valid for 24 hours. Try:",
      `  curl -s -X POST ${origin}${TOKEN_PATH} -H "Authorization: Bearer ${app.demoUserToken}" -H "Content-Type: application/json" -d '{"profile":"${first}"}'`,
    );
  }
  banner.push(`tollgate: ${worstCaseLine(app.worstCase)}`);
  if (app.demoPath) banner.push(`tollgate: demo page (an Anam session through tollgate/client) at ${origin}${app.demoPath}`);
  if (config.corsOrigins.length > 0) banner.push(`tollgate: CORS allowed for ${config.corsOrigins.join(", ")}`);
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
  console.error(`tollgate: ${error instanceof ConfigError || error instanceof TypeError || (error as { name?: string })?.name === "OptionError" ? (error as Error).message : "failed to start"}`);
  process.exit(1);
});

/** Node and Bun give the code EADDRINUSE; Deno throws `Deno.errors.AddrInUse`. */
function isAddressInUse(error: unknown): boolean {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return code === "EADDRINUSE" || name === "AddrInUse";
}

