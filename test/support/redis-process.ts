import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";

/**
 * A redis-server of a suite's own on `port` (loopback, nothing kept on disk), which the suite stops
 * and starts again under a running app, so that the shared Redis other suites use is never touched.
 * `start` resolves once it answers PING; `stop` kills it outright, as a crash would.
 */
export function redisProcess(port: () => number): { start(): Promise<void>; stop(): Promise<void> } {
  let server: ChildProcess | undefined;
  return {
    async start() {
      server = spawn("redis-server", ["--port", String(port()), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
      const probe = new Redis({ port: port(), host: "127.0.0.1", lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
      probe.on("error", () => {});
      await probe.connect().catch(() => {});
      await probe.ping();
      probe.disconnect();
    },
    async stop() {
      const running = server;
      server = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise((resolve) => {
        running.once("exit", resolve);
        running.kill("SIGKILL");
      });
    },
  };
}
