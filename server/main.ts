#!/usr/bin/env node
import process from "node:process";
import { causeChain } from "../src/handler/error-answer.ts";
import { createServerApp } from "./app.ts";
import { banner } from "./banner.ts";
import { ConfigError, readConfig } from "./config.ts";
import { listen, type Listening } from "./listen.ts";
import { metricsOnly } from "./metrics-server.ts";
import { startTelemetry } from "./otel.ts";

/**
 * The standalone token server: `npx tollgate` (the built entry), `npm start` in a clone, or
 * `bun` / `deno run -A` on this file or the built one.
 */

/** However stuck a shutdown is, the process is gone by then. */
const EXIT_DEADLINE_MS = 20_000;

async function main() {
  const config = readConfig(process.env);
  // Before the app, so that the handler's tracer and meter come from the SDK's providers.
  const telemetry = await startTelemetry(process.env);
  const ownMetricsPort = telemetry.prometheusText !== undefined && telemetry.metricsPort !== undefined;
  const app = await createServerApp(config, undefined, { prometheusText: ownMetricsPort ? undefined : telemetry.prometheusText });
  const server = await listenOn(app.fetch, config.port, config.host, "PORT");
  const metricsServer = ownMetricsPort
    ? await listenOn(metricsOnly(telemetry.prometheusText!), telemetry.metricsPort!, telemetry.metricsHost ?? config.host, telemetry.metricsPortVariable ?? "TOLLGATE_METRICS_PORT")
    : undefined;
  const store = await app.checkStore();

  // One write, so that whoever reads the first line also has the rest.
  const facts = { origin: `http://localhost:${server.port}`, config, app, store, telemetry: { ...telemetry, metricsPort: metricsServer?.port } };
  console.log(banner(facts).join("\n"));

  // SIGTERM: no new connections, the requests in flight answered, the store let go, pending spans
  // and metrics exported, then exit. A signal can arrive twice (from the terminal and from a
  // wrapper relaying it); the first one does the work.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`tollgate: ${signal}: finishing the requests in flight, then stopping`);
    setTimeout(() => process.exit(1), EXIT_DEADLINE_MS).unref?.();
    app.stopping();
    void (async () => {
      await Promise.allSettled([server.close(), metricsServer?.close()]);
      await app.close().catch(() => {});
      await telemetry.shutdown().catch(() => {});
      console.log("tollgate: stopped");
      process.exit(0);
    })();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  whenNpmIsGone(() => stop("npm exited"));
}

/**
 * `npx tollgate` runs this under `sh -c`, and a SIGTERM to npm reaches that shell, which dies
 * without passing it on. Under npm (which sets `npm_command`), a parent that went away is taken
 * as the SIGTERM it was, so that no orphan keeps the port. Anywhere else a new parent means
 * nothing: `nohup` and process managers reparent on purpose.
 */
function whenNpmIsGone(stop: () => void): void {
  if (!process.env.npm_command) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop();
    }
  }, 500);
  timer.unref?.();
}

async function listenOn(fetch: (request: Request) => Promise<Response>, port: number, host: string | undefined, variable: string): Promise<Listening> {
  try {
    return await listen(fetch, port, host);
  } catch (error) {
    throw isAddressInUse(error) ? new ConfigError(`port ${port} is already in use; set ${variable} to a free one`) : error;
  }
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof TypeError || (error as { name?: string })?.name === "OptionError";
  console.error(`tollgate: ${known ? (error as Error).message : `failed to start: ${causeChain(error) ?? String(error)}`}`);
  process.exit(1);
});

/** Node and Bun give the code EADDRINUSE; Deno throws `Deno.errors.AddrInUse`. */
function isAddressInUse(error: unknown): boolean {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return code === "EADDRINUSE" || name === "AddrInUse";
}

