/**
 * Session leases and the fleet-wide single-flight lock on Redis or Valkey: what tollgate/redis's
 * store and tollgate/unstorage's Redis driver use. Each operation is one Lua script, so it is atomic
 * and costs one round trip, on Redis's own clock (TIME) unless a `now` is given.
 *
 * Keys: a user's leases are a sorted set `<prefix>:lease:{<owner digest>}`, one member per lease
 * (`<profile>:<lease id>`) scored by when it lapses; each profile's live leases, for the fleet-wide
 * gauge, a sorted set `<prefix>:leases:{<profile>}` of the same members. The two live in different
 * Cluster slots, so the profile tally is a second command after each change: it can only lag, never
 * decide, and its members lapse by their own scores. A lock is a string `<prefix>:lock:{<key>}`
 * holding its holder's id, with a TTL.
 */
import type { Cluster, Redis } from "ioredis";
import type { FlightLockStore, LeaseDecision, LeaseStore } from "../src/sessions/types.ts";
import { leaseMember, profileOfMember } from "../src/sessions/types.ts";

const CLOCK = `
local now = tonumber(ARGV[#ARGV])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
-- Removes KEYS[1]'s lapsed members and returns them.
local function sweep()
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now))
  if #lapsed > 0 then redis.call('ZREM', KEYS[1], unpack(lapsed)) end
  return lapsed
end
-- The set lives as long as its last lease, and a minute more for clocks slightly behind.
local function keep()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', KEYS[1], int(math.max(1, tonumber(last[2]) - now) + 60000)) end
end
`;

/** ARGV: member, limit, ttl ms, now. Returns {taken (1/0), held, wait ms before the earliest lapses, lapsed members}. */
const TAKE_LEASE = `${CLOCK}
local lapsed = sweep()
local held = redis.call('ZCARD', KEYS[1])
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if mine or held < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[3])), ARGV[1])
  if not mine then held = held + 1 end
  keep()
  return {1, held, 0, lapsed}
end
local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, held, tonumber(earliest[2]) - now, lapsed}
`;

/** ARGV: member, ttl ms, now. Returns {renewed (1/0), lapsed members}. */
const RENEW_LEASE = `${CLOCK}
local lapsed = sweep()
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[2])), ARGV[1])
  keep()
  return {1, lapsed}
end
return {0, lapsed}
`;

/** ARGV: member, now. Returns {released (1/0), lapsed members}. */
const RELEASE_LEASE = `${CLOCK}
local lapsed = sweep()
local released = redis.call('ZREM', KEYS[1], ARGV[1])
return {released, lapsed}
`;

/** ARGV: now. Returns the live leases. */
const COUNT_LEASES = `${CLOCK}
sweep()
return redis.call('ZCARD', KEYS[1])
`;

/** KEYS[1]: a profile's tally. ARGV: member, ttl ms (0 removes it), now. */
const TALLY = `${CLOCK}
sweep()
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[2])), ARGV[1])
  keep()
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
`;

/** ARGV: holder, ttl ms. Returns the holder now: ARGV[1] when it took the lock. */
const ACQUIRE_LOCK = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1])
`;

/** ARGV: holder. Deletes the lock only if that holder still holds it. */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type Script = (...args: Array<string | number>) => Promise<unknown>;
const SCRIPTS = {
  tollgateTakeLease: TAKE_LEASE,
  tollgateRenewLease: RENEW_LEASE,
  tollgateReleaseLease: RELEASE_LEASE,
  tollgateCountLeases: COUNT_LEASES,
  tollgateLeaseTally: TALLY,
  tollgateAcquireLock: ACQUIRE_LOCK,
  tollgateReleaseLock: RELEASE_LOCK,
} as const;
type ScriptName = keyof typeof SCRIPTS;

/** Registers the scripts once per client; ioredis sends EVALSHA, and EVAL after a NOSCRIPT. */
export function sessionScriptsOn(client: Redis | Cluster): Record<ScriptName, Script> {
  const commands = client as unknown as Record<string, Script | undefined>;
  const bound = {} as Record<ScriptName, Script>;
  for (const [name, lua] of Object.entries(SCRIPTS) as Array<[ScriptName, string]>) {
    if (typeof commands[name] !== "function") client.defineCommand(name, { numberOfKeys: 1, lua });
    const command = commands[name]!;
    bound[name] = (...args) => command.apply(client, args);
  }
  return bound;
}

export interface RedisSessionStore extends LeaseStore, FlightLockStore {}

export function redisSessionStore(options: { client: Redis | Cluster | Promise<Redis | Cluster>; prefix: string; now?: () => number }): RedisSessionStore {
  const { prefix } = options;
  const clientReady = Promise.resolve(options.client);
  let scripts: Record<ScriptName, Script> | undefined;
  const run = async (name: ScriptName, ...args: Array<string | number>) => {
    scripts ??= sessionScriptsOn(await clientReady);
    return scripts[name](...args, options.now ? String(options.now()) : "");
  };
  const leasesKey = (owner: string) => `${prefix}:lease:{${owner}}`;
  const tallyKey = (profile: string) => `${prefix}:leases:{${profile}}`;
  const profilesOf = (lapsed: unknown) => (lapsed as string[]).map(profileOfMember);
  const tally = (profile: string, member: string, ttlMs: number) => run("tollgateLeaseTally", tallyKey(profile), member, Math.max(0, Math.ceil(ttlMs)));
  const untally = (lapsed: string[]) => Promise.all(lapsed.map((member) => tally(profileOfMember(member), member, 0)));

  return {
    async takeLease(owner, id, profile, limit, ttlMs) {
      const member = leaseMember(profile, id);
      const [taken, held, waitMs, lapsed] = (await run("tollgateTakeLease", leasesKey(owner), member, limit, Math.ceil(ttlMs))) as [number, number, number, string[]];
      await Promise.all([taken === 1 ? tally(profile, member, ttlMs) : undefined, untally(lapsed)]);
      const decision: LeaseDecision = taken === 1 ? { taken: true, held, lapsed: profilesOf(lapsed) } : { taken: false, held, retryAfterMs: waitMs, lapsed: profilesOf(lapsed) };
      return decision;
    },
    async renewLease(owner, id, profile, ttlMs) {
      const member = leaseMember(profile, id);
      const [renewed, lapsed] = (await run("tollgateRenewLease", leasesKey(owner), member, Math.ceil(ttlMs))) as [number, string[]];
      await Promise.all([renewed === 1 ? tally(profile, member, ttlMs) : undefined, untally(lapsed)]);
      return { renewed: renewed === 1, lapsed: profilesOf(lapsed) };
    },
    async releaseLease(owner, id, profile) {
      const member = leaseMember(profile, id);
      const [released, lapsed] = (await run("tollgateReleaseLease", leasesKey(owner), member)) as [number, string[]];
      await Promise.all([tally(profile, member, 0), untally(lapsed)]);
      return { released: released === 1, lapsed: profilesOf(lapsed) };
    },
    async leaseCount(owner) {
      return Number(await run("tollgateCountLeases", leasesKey(owner)));
    },
    async activeLeases(profiles) {
      const counts = await Promise.all(profiles.map((profile) => run("tollgateCountLeases", tallyKey(profile))));
      return Object.fromEntries(profiles.map((profile, i) => [profile, Number(counts[i])]));
    },
    async acquireLock(key, holder, ttlMs) {
      scripts ??= sessionScriptsOn(await clientReady);
      const current = (await scripts.tollgateAcquireLock(`${prefix}:lock:{${key}}`, holder, Math.max(1, Math.ceil(ttlMs)))) as string | null;
      return { taken: current === holder, holder: current ?? undefined };
    },
    async releaseLock(key, holder) {
      scripts ??= sessionScriptsOn(await clientReady);
      await scripts.tollgateReleaseLock(`${prefix}:lock:{${key}}`, holder);
    },
  };
}
