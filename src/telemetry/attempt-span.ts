import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from "@opentelemetry/api";
import { UpstreamError } from "../errors.ts";
import type { MintContext, MintedToken, Provider, Upstream } from "../provider.ts";
import { ATTR } from "./attributes.ts";

/**
 * An HTTP provider's `mint`, one CLIENT span per upstream attempt, with the HTTP client attributes
 * of the semantic conventions. The span is a child of the active span, which is the issue span of
 * the request that started the upstream call.
 *
 * `url.full` is the endpoint's origin and path only: no credentials or query can reach a backend.
 * The exception itself is never recorded, because an upstream's error text is free text.
 */
export function tracedMint<Config>(
  provider: Provider<Config, unknown> & { readonly upstream: Upstream },
  tracer: Tracer,
): (config: Config, context: MintContext, attempt: number) => Promise<MintedToken> {
  const { endpoint, method } = provider.upstream;
  const spanName = `${method} ${endpoint.pathname}`;
  const staticAttributes: Attributes = {
    [ATTR.httpMethod]: method,
    [ATTR.serverAddress]: endpoint.hostname,
    [ATTR.serverPort]: endpoint.port ? Number(endpoint.port) : endpoint.protocol === "https:" ? 443 : 80,
    [ATTR.urlFull]: `${endpoint.origin}${endpoint.pathname}`,
    [ATTR.provider]: provider.name,
  };

  return (config, context, attempt) => {
    const attributes: Attributes = { ...staticAttributes };
    // The conventions count resends from the second attempt on.
    if (attempt > 1) attributes[ATTR.httpResendCount] = attempt - 1;
    return tracer.startActiveSpan(spanName, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      try {
        const minted = await provider.mint(config, context);
        if (minted.status !== undefined) span.setAttribute(ATTR.httpStatus, minted.status);
        return minted;
      } catch (error) {
        if (error instanceof UpstreamError) span.setAttribute(ATTR.httpStatus, error.upstreamStatus);
        const errorType = provider.upstream.classify(error).errorType;
        span.setAttribute(ATTR.errorType, errorType);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}
