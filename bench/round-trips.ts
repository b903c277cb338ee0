/**
 * Redis round trips per cache-hit request of the token route, counted on the client (socket writes
 * and commands its ioredis client sends) and in Redis (INFO commandstats, and the socket reads in
 * INFO stats). Requests go one after another, so that no two requests' commands share a write.
 *
 *   npx tsx bench/round-trips.ts            # 2 000 requests
 *   REQUESTS=10000 npx tsx bench/round-trips.ts
 */
import { Redis } from "ioredis";
import { redisStore } from "../adapters/redis.ts";
import { privateRedis, redisCounts } from "./redis-server.ts";
import { USER_TOKEN, benchTokenRoute } from "./setup.ts";

const requests = Number(process.env.REQUESTS ?? 2_000);
const redis = await privateRedis();
const client = new Redis(redis.url, { enableAutoPipelining: true, enableOfflineQueue: false, lazyConnect: true });
client.on("error", () => {});
await client.connect();
const admin = new Redis(redis.url);

// Every command and every socket write the store's client makes.
let commands = 0;
let writes = 0;
const send = client.sendCommand.bind(client);
client.sendCommand = ((command: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
  commands++;
  return send(command, stream);
}) as typeof client.sendCommand;
const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
const write = stream.write.bind(stream);
stream.write = (...args: unknown[]) => {
  writes++;
  return write(...args);
};

const { tokens } = benchTokenRoute({ store: redisStore({ client, prefix: "bench" }), sessions: { maxPerUser: 1_000_000 } });
const request = () =>
  new Request("http://bench/api/session-token", {
    method: "POST",
    headers: { Authorization: `Bearer ${USER_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ personaType: "support" }),
  });
// The first request mints; the next ones warm the digests that a cache hit looks up.
for (let i = 0; i < 20; i++) if ((await tokens(request())).status !== 200) throw new Error("warm-up failed");

const before = { commands, writes, redis: await redisCounts(admin) };
for (let i = 0; i < requests; i++) {
  const response = await tokens(request());
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  await response.arrayBuffer();
}
const after = await redisCounts(admin);
// The two INFO calls themselves are counted by Redis too (on the admin connection).
const infoCalls = 2;
const perRequest = (n: number) => (n / requests).toFixed(2);
const serverCalls = Object.fromEntries(
  Object.entries(after.calls)
    .map(([name, calls]) => [name, calls - (before.redis.calls[name] ?? 0) - (name === "info" ? infoCalls : 0)] as const)
    .filter(([, calls]) => calls > 0)
    .map(([name, calls]) => [name, perRequest(calls)]),
);
console.log(`cache-hit requests: ${requests}, one at a time`);
console.log(`client: socket writes per request ${perRequest(writes - before.writes)}, commands per request ${perRequest(commands - before.commands)}`);
// Reads: each request's write is one read on the server; the admin's INFO calls are one each.
console.log(`redis: socket reads per request ${perRequest(after.reads - before.redis.reads - infoCalls)}, calls per request ${JSON.stringify(serverCalls)}`);
client.disconnect();
admin.disconnect();
redis.stop();
