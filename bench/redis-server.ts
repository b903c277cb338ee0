import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

/**
 * A Redis of the benchmark's own on a spare loopback port, so that INFO's counters hold only the
 * benchmark's commands (the shared Redis on 6379 serves whatever else runs on the machine).
 */
export async function privateRedis(): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => {});
    const up = await probe.connect().then(() => true, () => false);
    probe.disconnect();
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, stop: () => child.kill("SIGTERM") };
}

/** Redis's own counts: calls per command (INFO commandstats) and socket reads (INFO stats). */
export async function redisCounts(admin: Redis): Promise<{ calls: Record<string, number>; reads: number }> {
  const calls: Record<string, number> = {};
  for (const match of ((await admin.info("commandstats")) as string).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  const reads = Number(/total_reads_processed:(\d+)/.exec((await admin.info("stats")) as string)?.[1]);
  return { calls, reads };
}
