import type { TollgateClient, TokenAnswer } from "./index.ts";

/**
 * tollgate/client/openai: an OpenAI Realtime call over WebRTC with a tollgate token (a client
 * secret, `ek_...`): the page's SDP offer goes to `POST {baseUrl}/v1/realtime/calls` with the
 * secret as bearer, and the answer is set on the peer connection. The call is reported started
 * when OpenAI accepts it (its `Location` names the call), ended when the connection closes or
 * fails or `stop()` is called, and failed (then one retry with a fresh secret) on a 401.
 */

export interface OpenAICallOptions {
  /** Default `https://api.openai.com`. */
  baseUrl?: string;
  /** A peer connection of your own, with your tracks and data channel added. Default: a new one with an `oai-events` channel and audio to receive. */
  peerConnection?: () => RTCPeerConnection;
}

export interface OpenAICall {
  peerConnection: RTCPeerConnection;
  token: TokenAnswer;
  /** The call's id, from the answer's `Location`. */
  callId: string | undefined;
  stop(): void;
}

/** OpenAI's answer that refused the secret. */
export class OpenAICallError extends Error {
  constructor(readonly status: number) {
    super(`OpenAI refused the call (${status})`);
    this.name = "OpenAICallError";
  }
}

export function startOpenAICall(tollgate: TollgateClient, profile: string, options: OpenAICallOptions = {}): Promise<OpenAICall> {
  const baseUrl = (options.baseUrl ?? "https://api.openai.com").replace(/\/+$/, "");
  return tollgate.runSession(
    profile,
    async (token, reporter) => {
      const peerConnection = options.peerConnection?.() ?? defaultPeerConnection();
      try {
        await peerConnection.setLocalDescription(await peerConnection.createOffer());
        const response = await fetch(`${baseUrl}/v1/realtime/calls`, {
          method: "POST",
          headers: { Authorization: `Bearer ${token.token}`, "Content-Type": "application/sdp" },
          body: peerConnection.localDescription!.sdp,
        });
        if (!response.ok) throw new OpenAICallError(response.status);
        const callId = response.headers.get("Location")?.split("/").pop();
        await peerConnection.setRemoteDescription({ type: "answer", sdp: await response.text() });
        reporter.started(callId);
        peerConnection.addEventListener("connectionstatechange", () => {
          if (peerConnection.connectionState === "closed" || peerConnection.connectionState === "failed") reporter.ended(peerConnection.connectionState);
        });
        return {
          peerConnection,
          token,
          callId,
          stop() {
            peerConnection.close();
            reporter.ended("stopped");
          },
        };
      } catch (error) {
        peerConnection.close();
        throw error;
      }
    },
    { isRefusal: (error) => error instanceof OpenAICallError && error.status === 401 },
  );
}

function defaultPeerConnection(): RTCPeerConnection {
  const peerConnection = new RTCPeerConnection();
  peerConnection.createDataChannel("oai-events");
  peerConnection.addTransceiver("audio", { direction: "recvonly" });
  return peerConnection;
}
