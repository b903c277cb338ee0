import { InvalidUpstreamResponse } from "../../errors.ts";
import { upstreamBaseUrl } from "../http.ts";

/**
 * What the two `POST /v1/realtime/client_secrets` endpoints (OpenAI's, and xAI's that copies its
 * shape) share: where the path goes under a base URL, and how `expires_at` is read.
 */

/**
 * The mint path under a base URL. OpenAI's SDKs, and the `OPENAI_BASE_URL` variable they read,
 * write the base with its `/v1` (`https://api.openai.com/v1`), and xAI's examples copy them; a base
 * that already ends in `/v1` is not given a second one, so either spelling reaches the endpoint.
 */
export function clientSecretsPath(option: string, baseUrl: string | URL): string {
  const base = upstreamBaseUrl(option, baseUrl);
  return base.pathname.endsWith("/v1/") ? "realtime/client_secrets" : "v1/realtime/client_secrets";
}

/**
 * `expires_at` (epoch seconds) as epoch ms. An answer without one is taken to expire when the
 * request asked; one that has already passed holds no usable token.
 */
export function clientSecretExpiry(expiresAtSeconds: number | undefined, mintedAt: number, requestedSeconds: number, label: string): number {
  if (expiresAtSeconds === undefined) return mintedAt + requestedSeconds * 1000;
  const expiresAt = expiresAtSeconds * 1000;
  if (expiresAt <= mintedAt) throw new InvalidUpstreamResponse(`${label} answered 200 with a client secret that has already expired`);
  return expiresAt;
}
