import type { Room, RoomConnectOptions } from "livekit-client";
import type { TollgateClient } from "./index.ts";

/**
 * tollgate/client/livekit: joins a LiveKit room with a tollgate token (`room.connect(serverUrl,
 * token)`, `serverUrl` from the token's answer) and reports the session from the room's own
 * events: `connected` -> started (with the room's name), `disconnected` -> ended, a refused token
 * (livekit-client's `NotAllowed`, a 401 or 403) -> failed and one more try with a fresh token.
 * `livekit-client` is the app's; only its types are used here.
 */
export async function connectLiveKitRoom(tollgate: TollgateClient, profile: string, room: Room, options?: RoomConnectOptions): Promise<Room> {
  return tollgate.runSession(
    profile,
    async (token, reporter) => {
      if (typeof token.serverUrl !== "string") throw new TypeError(`profile "${profile}" is not a LiveKit profile: its answer has no serverUrl`);
      // String names of RoomEvent.Connected and RoomEvent.Disconnected, so that nothing of livekit-client is bundled twice.
      const events = room as unknown as { once(event: string, listener: (...args: unknown[]) => void): void };
      events.once("connected", () => reporter.started(room.name));
      events.once("disconnected", (reason?: unknown) => reporter.ended(reason === undefined ? undefined : String(reason)));
      await room.connect(token.serverUrl, token.token, options);
      return room;
    },
    { isRefusal },
  );
}

function isRefusal(error: unknown): boolean {
  const { reasonName, status } = (error ?? {}) as { reasonName?: unknown; status?: unknown };
  return reasonName === "NotAllowed" || status === 401 || status === 403;
}
