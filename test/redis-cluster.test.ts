/**
 * The Redis store on a real Redis Cluster: a one-node cluster that this file starts on a spare
 * loopback port and owns all 16 384 slots. A script whose keys fell in two slots would fail with
 * CROSSSLOT here, so every algorithm deciding shows that a decision's keys share one slot.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../adapters/redis.ts";
import { getDependent } from "../src/store/dependent.ts";
import type { RateLimitAlgorithm } from "../src/rate-limit/types.ts";
import { sparePort } from "./support/ports.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

let port = 0;
let server: ChildProcess | undefined;
let cluster: Cluster | undefined;
const directory = mkdtempSync(join(tmpdir(), "tollgate-cluster-"));

beforeAll(async () => {
  port = await sparePort();
  server = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-announce-ip", "127.0.0.1", "--cluster-config-file", join(directory, "nodes.conf"), "--save", "", "--appendonly", "no", "--dir", directory],
    { stdio: "ignore" },
  );
  const admin = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  admin.on("error", () => {});
  await admin.connect().catch(() => {});
  await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  // The node serves its slots once the cluster state turns ok.
  for (let i = 0; i < 100 && !(await admin.call("CLUSTER", "INFO") as string).includes("cluster_state:ok"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  admin.disconnect();
  cluster = new Cluster([{ host: "127.0.0.1", port }]);
});

afterAll(async () => {
  cluster?.disconnect();
  if (server && server.exitCode === null) {
    await new Promise((resolve) => {
      server!.once("exit", resolve);
      server!.kill("SIGKILL");
    });
  }
  rmSync(directory, { recursive: true, force: true });
});

describe("redis store on Redis Cluster", () => {
  for (const algorithm of ["fixed-window", "sliding-window", "token-bucket"] as RateLimitAlgorithm[]) {
    it(`decides ${algorithm} in one slot, exactly`, async () => {
      const store = redisStore({ client: cluster!, prefix: "cluster" });
      const rule = { algorithm, limit: 5, windowMs: 60_000 };
      await clearOfWindowEdge(rule.windowMs, 2_000);
      const decisions = await Promise.all(Array.from({ length: 20 }, () => store.consume("user:0a1b2c", rule, 1)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    });
  }

  it("keeps cache entries there too", async () => {
    const store = redisStore({ client: cluster!, prefix: "cluster" });
    await store.set("k", { v: 1 }, 10_000);
    expect(await store.get("k")).toEqual({ v: 1 });
  });

  it("checks a reuse entry's record with a second read, since the two live in different slots", async () => {
    const store = redisStore({ client: cluster!, prefix: "cluster" });
    expect(store.getDependent).toBeUndefined();
    await store.set("token:c1", { owner: "o" }, 10_000);
    await store.set("reuse:c1", { token: "c1", dependsOn: "token:c1" }, 10_000);
    expect(await getDependent(store, "reuse:c1")).toEqual({ token: "c1", dependsOn: "token:c1" });
    await store.delete("token:c1");
    expect(await getDependent(store, "reuse:c1")).toBeUndefined();
    expect(await store.get("reuse:c1")).toBeUndefined();
  });

  it("would refuse keys in two slots, which is what the hash tag prevents", async () => {
    // The same two keys without a shared hash tag land in different slots and the server says so.
    const slots = await Promise.all(["cluster:rl:user:0a1b2c:sw", "cluster:rl:user:0a1b2c:sw:seq"].map((key) => cluster!.call("CLUSTER", "KEYSLOT", key)));
    expect(new Set(slots).size).toBe(2);
    const tagged = await Promise.all(["cluster:rl:{user:0a1b2c}:sw", "cluster:rl:{user:0a1b2c}:sw:seq"].map((key) => cluster!.call("CLUSTER", "KEYSLOT", key)));
    expect(new Set(tagged).size).toBe(1);
  });
});
