import * as v from "valibot";

/**
 * A LiveKit profile: the room a user may join, how long the token may start a connection, and what
 * the participant may do there. Only a participant's grants are offered: admin grants (roomAdmin,
 * roomCreate, roomList, roomRecord, ingressAdmin, agent, recorder) have no place in a token handed
 * to a browser, and the strict object refuses them by name.
 */

/** Track sources as LiveKit's `canPublishSources` names them in a JWT. */
export const TRACK_SOURCES = ["camera", "microphone", "screen_share", "screen_share_audio"] as const;

/** A token's lifetime, in seconds: the window to make the first connection. */
export const DEFAULT_TTL_SECONDS = 600;
export const MAX_TTL_SECONDS = 24 * 60 * 60;

const Grants = v.strictObject({
  canPublish: v.optional(v.boolean()),
  canPublishSources: v.optional(v.array(v.picklist(TRACK_SOURCES))),
  canSubscribe: v.optional(v.boolean()),
  canPublishData: v.optional(v.boolean()),
  canUpdateOwnMetadata: v.optional(v.boolean()),
  canSubscribeMetrics: v.optional(v.boolean()),
  hidden: v.optional(v.boolean()),
});

export const roomConfigSchema = v.strictObject({
  room: v.pipe(v.string(), v.minLength(1, "must name a room"), v.maxLength(256)),
  ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_TTL_SECONDS)), DEFAULT_TTL_SECONDS),
  grants: v.optional(Grants),
  /** The participant's display name (`Participant.name`). */
  name: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** Participant metadata, as LiveKit takes it: one string. */
  metadata: v.optional(v.string()),
  attributes: v.optional(v.record(v.string(), v.string())),
});

export type LiveKitConfig = v.InferOutput<typeof roomConfigSchema>;
export type LiveKitConfigInput = v.InferInput<typeof roomConfigSchema>;
export type LiveKitGrants = v.InferOutput<typeof Grants>;
