import { Redis } from "ioredis";

/** Deletes every key under `prefix` on the Redis at `url`: what a suite that wrote there leaves behind. */
export async function deleteKeysUnder(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url);
  try {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  } finally {
    admin.disconnect();
  }
}
