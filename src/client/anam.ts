import { AnamEvent, ErrorCode, createClient, type AnamClientOptions } from "@anam-ai/js-sdk";
import type { SessionReporter, TokenAnswer, TollgateClient } from "./index.ts";

/**
 * tollgate/client/anam: an Anam session from a tollgate token, reported from the SDK's own events
 * (`@anam-ai/js-sdk` 4, a peer dependency):
 * - `SESSION_READY` (its signalling socket's `sessionready`) -> `started`, with Anam's session id;
 * - `CONNECTION_CLOSED` -> `ended`, with the duration, once however often the SDK says it;
 * - an authentication error when the session starts (the token was spent or expired) -> `failed`,
 *   then one more try with a fresh token.
 */

export type AnamClient = ReturnType<typeof createClient>;

export interface AnamSessionOptions {
  /** The `<video>` element's id the persona is streamed to. */
  videoElementId: string;
  /** Passed to `createClient` (`api.baseUrl`, `disableInputAudio`, ...). */
  client?: AnamClientOptions;
  /** A microphone stream of your own, passed to `streamToVideoElement`. */
  audioStream?: MediaStream;
  /** Called with each client made, before it streams: add your own listeners here. */
  onClient?: (client: AnamClient, token: TokenAnswer) => void;
}

export interface AnamSession {
  client: AnamClient;
  token: TokenAnswer;
  /** Anam's session id, once `SESSION_READY` has come. */
  ready: Promise<string>;
  /** Stops streaming; `ended` is reported with the duration. */
  stop(): Promise<void>;
}

/** Starts an Anam session for `profile`, with a token from `tollgate`. */
export function startAnamSession(tollgate: TollgateClient, profile: string, options: AnamSessionOptions): Promise<AnamSession> {
  return tollgate.runSession(profile, (token, reporter) => stream(token, reporter, options), { isRefusal: isTokenRefusal });
}

async function stream(token: TokenAnswer, reporter: SessionReporter, options: AnamSessionOptions): Promise<AnamSession> {
  const client = createClient(typeof token.sessionToken === "string" ? token.sessionToken : token.token, options.client);
  let ready!: (sessionId: string) => void;
  const readyPromise = new Promise<string>((resolve) => (ready = resolve));
  client.addListener(AnamEvent.SESSION_READY, (sessionId: string) => {
    reporter.started(sessionId);
    ready(sessionId);
  });
  client.addListener(AnamEvent.CONNECTION_CLOSED, (code: string) => reporter.ended(code));
  options.onClient?.(client, token);
  await client.streamToVideoElement(options.videoElementId, options.audioStream);
  return { client, token, ready: readyPromise, stop: () => client.stopStreaming() };
}

/** Anam answers 401 or 403 to a token it will not start a session with; the SDK names both so. */
function isTokenRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === ErrorCode.CLIENT_ERROR_CODE_AUTHENTICATION_ERROR;
}
