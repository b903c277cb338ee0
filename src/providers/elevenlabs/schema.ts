import * as v from "valibot";

/**
 * An ElevenLabs Agents profile config: which agent, and which credential the browser gets for it.
 * `connection: "webrtc"` (the default) asks for a conversation token, `"websocket"` for a signed
 * URL. Field names are the SDK's request fields (`ConversationsGetWebrtcTokenRequest`,
 * `ConversationsGetSignedUrlRequest`). Strict, so that a misspelt field is an error rather than a
 * field that is silently never sent; a field of the other connection is refused by name.
 */

export const CONNECTIONS = ["webrtc", "websocket"] as const;
export type Connection = (typeof CONNECTIONS)[number];

// Agent, branch and version ids are opaque (`agent_…`, `seng_…`, or the older bare ids); this only
// keeps out what no id holds, so that a pasted space or URL is caught when the profile is read.
const Id = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/, "must be an id of 1-128 letters, digits, '_' or '-'"));

const CommonEntries = {
  agentId: Id,
  branchId: v.optional(Id),
  versionId: v.optional(Id),
  /** Which of the agent's environments resolves its variables; ElevenLabs defaults to `production`. */
  environment: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '_', '.' or '-'"))),
};

const WebrtcEntries = {
  ...CommonEntries,
  connection: v.optional(v.literal("webrtc", 'must be "webrtc" or "websocket"'), "webrtc"),
  /** The name the user joins the conversation's room under; ElevenLabs uses the account's user id without it. */
  participantName: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"), v.maxLength(128))),
  includeConversationId: v.optional(v.never('applies to connection "websocket" only')),
};

const WebsocketEntries = {
  ...CommonEntries,
  connection: v.literal("websocket"),
  /** Makes the signed URL's signature single-use, and puts the conversation id in the URL. */
  includeConversationId: v.optional(v.boolean()),
  participantName: v.optional(v.never('applies to connection "webrtc" only')),
};

const webrtcSchema = v.strictObject(WebrtcEntries);
const websocketSchema = v.strictObject(WebsocketEntries);

export type WebrtcConfig = Omit<v.InferOutput<typeof webrtcSchema>, "includeConversationId">;
export type WebsocketConfig = Omit<v.InferOutput<typeof websocketSchema>, "participantName">;
export type ElevenLabsConfig = WebrtcConfig | WebsocketConfig;
export type ElevenLabsConfigInput =
  | Omit<v.InferInput<typeof webrtcSchema>, "includeConversationId">
  | Omit<v.InferInput<typeof websocketSchema>, "participantName">;

/** The config schema: a websocket config when it says so, a webrtc one otherwise. */
export const elevenLabsConfigSchema: v.GenericSchema<ElevenLabsConfigInput, ElevenLabsConfig> = v.lazy((input) =>
  typeof input === "object" && input !== null && (input as { connection?: unknown }).connection === "websocket" ? websocketSchema : webrtcSchema,
) as v.GenericSchema<ElevenLabsConfigInput, ElevenLabsConfig>;
