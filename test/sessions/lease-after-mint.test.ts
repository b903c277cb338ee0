/**
 * A mint that succeeded upstream but whose token could not be kept: the store refused the token's
 * record. The client is answered 503, and the lease taken for that token must not outlive the
 * answer. The store is a Redis of this suite's own, whose user may write every key but records.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../../adapters/redis.ts";
import { userDigest } from "../../src/canonical.ts";
import { createProfile, createTokenIssuer, type LifecycleEvent } from "../../src/index.ts";
import { anam } from "../../src/providers/anam/index.ts";
import { PERSONAS } from "../support/personas.ts";
import { sparePort } from "../support/ports.ts";
import { redisProcess } from "../support/redis-process.ts";
import { TEST_API_KEY, capturingLogger, closeAll, startUpstream, type Upstream } from "../support/servers.ts";

const PREFIX = "no-records";
let port = 0;
const own = redisProcess(() => port);
let upstream: Upstream;
const clients: Redis[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  port = await sparePort();
  await own.start();
  const admin = new Redis({ port, host: "127.0.0.1" });
  clients.push(admin);
  // Every key of the prefix may be read and written, but a token's record may only be read.
  await admin.call("ACL", "SETUSER", "app", "on", "nopass", "+@all", `~${PREFIX}:lease*`, `~${PREFIX}:lock*`, `~${PREFIX}:cache:reuse:*`, `~${PREFIX}:cache:flight:*`, `%R~${PREFIX}:cache:token:*`);
}, 20_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await own.stop();
  await closeAll();
});

describe("a store write after a successful mint that fails", () => {
  it("answers 503 and releases the lease the mint took, so the user's next request is not refused for it", async () => {
    const client = new Redis({ port, host: "127.0.0.1", username: "app", password: "any" });
    clients.push(client);
    const store = redisStore({ client, prefix: PREFIX });
    const events: LifecycleEvent[] = [];
    const issuer = createTokenIssuer({ store, sessions: { maxPerUser: 1 }, logger: capturingLogger(), onEvent: (event) => events.push(event) });
    const profile = createProfile("support", anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }), PERSONAS.support);

    await expect(issuer.issue({ profile, userId: "judy", clientId: "tab-1" })).rejects.toMatchObject({ code: "store_unavailable", status: 503 });
    expect(upstream.emulator.stats.mintRequests).toBe(1);
    expect(events.find((event) => event.name === "lease_released")).toMatchObject({ reason: "store_failed", profile: "support" });
    expect(await store.leaseCount(await userDigest("judy"))).toBe(0);

    // The next request fails for the store again, not for a lease held by a token nobody got.
    await expect(issuer.issue({ profile, userId: "judy", clientId: "tab-2" })).rejects.toMatchObject({ code: "store_unavailable" });
  });
});
