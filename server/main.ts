import process from "node:process";
import { serve } from "srvx";
import { createServerApp, TOKEN_PATH } from "./app.ts";
import { ConfigError, readConfig } from "./config.ts";

/** The standalone token server: `npm start`, `bun server/main.ts` or `deno run -A server/main.ts`. */

async function main() {
  const config = readConfig(process.env);
  const app = await createServerApp(config);
  const server = serve({ fetch: app.fetch, port: config.port, silent: true, gracefulShutdown: false });
  await server.ready();
  const origin = `http://localhost:${new URL(server.url!).port}`;

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
  console.log(banner.join("\n"));

  const stop = () => void Promise.all([server.close(true), app.close()]).finally(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(`tollgate: ${error instanceof ConfigError || error instanceof TypeError ? error.message : "failed to start"}`);
  process.exit(1);
});
