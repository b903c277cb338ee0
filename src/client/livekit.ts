import type { TollgateClient } from "./index.ts";

/**
 * tollgate/client/livekit: joins a LiveKit room with a tollgate token (`room.connect(serverUrl,
 * token)`, `serverUrl` from the token's answer) and reports the session from the room's own
 * events: `connected` -> started (with the room's name), `disconnected` -> ended, a refused token
 * (livekit-client's `NotAllowed`, a 401 or 403) -> failed and one more try with a fresh token.
 * The room is livekit-client's `Room`, the app's own; nothing of livekit-client is imported here.
 */

/** The part of livekit-client's `Room` used here. */
export interface LiveKitRoom {
  readonly name: string;
  connect(url: string, token: string, options?: any): Promise<void>;
  once(event: "connected" | "disconnected", listener: (...args: any[]) => void): unknown;
}

export async function connectLiveKitRoom<R extends LiveKitRoom>(tollgate: TollgateClient, profile: string, room: R, options?: Parameters<R["connect"]>[2]): Promise<R> {
  return tollgate.runSession(
    profile,
    async (token, reporter) => {
      if (typeof token.serverUrl !== "string") throw new TypeError(`profile "${profile}" is not a LiveKit profile: its answer has no serverUrl`);
      // RoomEvent.Connected and RoomEvent.Disconnected, by their string values. A room that never
      // connected had no session to end: livekit-client says `disconnected` for a refused join too,
      // before `connect` rejects, and that token is to be reported failed instead.
      room.once("connected", () => {
        reporter.started(room.name);
        room.once("disconnected", (reason?: unknown) => reporter.ended(reason === undefined ? undefined : String(reason)));
      });
      await room.connect(token.serverUrl, token.token, options);
      return room;
    },
    { isRefusal },
  );
}

/**
 * livekit-client's `Room.connect` rethrows its signal client's `NotAllowed` as a `ServerUnreachable`
 * that keeps the reason and the status but not the `reasonName` (2.23), so the status is what
 * tells a refused token (test/browser/livekit-room.test.ts).
 */
function isRefusal(error: unknown): boolean {
  const { reasonName, status } = (error ?? {}) as { reasonName?: unknown; status?: unknown };
  return reasonName === "NotAllowed" || status === 401 || status === 403;
}
