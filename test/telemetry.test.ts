import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SamplingDecision, SimpleSpanProcessor, type ReadableSpan, type Sampler } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenHandler, telemetryListener, withServerSpan, type TokenHandlerOptions } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { eventAttributes } from "../src/telemetry/index.ts";
import { PERSONAS, asUser, authenticate, authorize } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream, type Upstream } from "./support/servers.ts";
import { counterValue, histogramValue, inMemoryTelemetry, spanEvents, useSdkGlobals, type TestTelemetry } from "./support/telemetry.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

// Each lifecycle event, driven over real loopback HTTP, and the span, span event and metric point
// it leaves in in-memory exporters. Every test gets its own providers, so counts start at zero.

const TOKEN_PATH = "/api/session-token";
const USAGE_PATH = "/api/session-token/usage";

let upstream: Upstream;
let stopContext: () => void;
beforeAll(async () => {
  stopContext = useSdkGlobals();
  upstream = await startUpstream();
});
afterAll(async () => {
  await closeAll();
  stopContext();
});

/** The handler behind a server span, as an app with HTTP instrumentation would serve it. */
async function tracedServer(options: Pick<TokenHandlerOptions, "recordUserIds" | "rateLimit"> = {}) {
  const telemetry = inMemoryTelemetry();
  const handler = createTokenHandler({
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url, retry: { baseDelayMs: 1, maxDelayMs: 2 } }),
    authenticate,
    authorize,
    personas: PERSONAS,
    logger: capturingLogger(),
    tracerProvider: telemetry.tracerProvider,
    meterProvider: telemetry.meterProvider,
    recordUserIds: options.recordUserIds,
    rateLimit: options.rateLimit,
  });
  const served = withServerSpan(handler, { routes: [TOKEN_PATH, USAGE_PATH], tracerProvider: telemetry.tracerProvider });
  const { url } = await listen("handler", served);
  return { telemetry, tokenUrl: url + TOKEN_PATH, usageUrl: url + USAGE_PATH };
}

/** A handler with the test users and personas on `baseUrl` (the shared emulator unless given), plus `options`. */
function plainHandler(options: Partial<TokenHandlerOptions> = {}, baseUrl = upstream.url) {
  return createTokenHandler({ provider: anam({ apiKey: TEST_API_KEY, baseUrl }), authenticate, personas: PERSONAS, logger: capturingLogger(), ...options });
}

function byName(telemetry: TestTelemetry, name: string): ReadableSpan[] {
  return telemetry.spans().filter((span) => span.name === name);
}

function only(telemetry: TestTelemetry, name: string): ReadableSpan {
  const spans = byName(telemetry, name);
  expect(spans, `spans named ${name}`).toHaveLength(1);
  return spans[0]!;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function tokenFor(tokenUrl: string, user: "alice" | "bob" = "alice"): Promise<string> {
  const response = await fetch(tokenUrl, asUser(user));
  expect(response.status).toBe(200);
  return ((await response.json()) as { sessionToken: string }).sessionToken;
}

describe("a token minted upstream", () => {
  it("is one issue span under the server span, one client span per attempt, and the events requested, minting, minted, issued", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    await tokenFor(tokenUrl);

    const server = only(telemetry, `POST ${TOKEN_PATH}`);
    const issue = only(telemetry, "tollgate.issue");
    const attempt = only(telemetry, "POST /v1/auth/session-token");
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.attributes["http.route"]).toBe(TOKEN_PATH);
    expect(server.attributes["http.response.status_code"]).toBe(200);
    expect(issue.kind).toBe(SpanKind.INTERNAL);
    expect(parentOf(issue)).toBe(server.spanContext().spanId);
    expect(parentOf(attempt)).toBe(issue.spanContext().spanId);
    expect(new Set([server, issue, attempt].map((span) => span.spanContext().traceId)).size).toBe(1);

    expect(spanEvents(issue)).toEqual(["tollgate.requested", "tollgate.minting", "tollgate.minted", "tollgate.issued"]);
    expect(issue.attributes).toMatchObject({ "tollgate.provider": "anam", "tollgate.profile": "support", "http.response.status_code": 200 });
    expect(issue.attributes["enduser.pseudo.id"]).toMatch(/^[0-9a-f]{12}$/);
    expect(issue.attributes["error.type"]).toBeUndefined();
    expect(issue.events.find((event) => event.name === "tollgate.issued")?.attributes).toMatchObject({ "tollgate.cache_hit": false });
    expect(issue.events.find((event) => event.name === "tollgate.minted")?.attributes?.["tollgate.token.fingerprint"]).toMatch(/^[0-9a-f]{12}$/);

    const upstreamUrl = new URL(upstream.url);
    expect(attempt.kind).toBe(SpanKind.CLIENT);
    expect(attempt.attributes).toEqual({
      "http.request.method": "POST",
      "server.address": upstreamUrl.hostname,
      "server.port": Number(upstreamUrl.port),
      "url.full": `${upstreamUrl.origin}/v1/auth/session-token`,
      "tollgate.provider": "anam",
      "http.response.status_code": 200,
    });
    expect(attempt.status.code).toBe(SpanStatusCode.UNSET);

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.token.requests"))).toBe(1);
    expect(counterValue(metrics.get("tollgate.upstream.mint.attempts"), { "tollgate.profile": "support" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.tokens.issued"), { "tollgate.provider": "anam", "tollgate.profile": "support", "tollgate.cache_hit": false })).toBe(1);
    expect(counterValue(metrics.get("tollgate.tokens.issued"), { "tollgate.cache_hit": true })).toBe(0);
    const duration = histogramValue(metrics.get("tollgate.upstream.mint.duration"));
    expect(duration.count).toBe(1);
    expect(duration.sum).toBeGreaterThanOrEqual(0);
    expect(metrics.get("tollgate.upstream.mint.duration")?.descriptor.unit).toBe("s");
    expect(metrics.get("tollgate.tokens.issued")?.descriptor.unit).toBe("{token}");
  });

  it("records the upstream time in seconds", async () => {
    // An upstream that takes at least 100 ms: in seconds that is at least 0.1 and far below 100.
    const slow = await startUpstream({ latencyMs: 100 });
    const telemetry = inMemoryTelemetry();
    const handler = plainHandler({ meterProvider: telemetry.meterProvider }, slow.url);
    const { url } = await listen("handler", handler);
    await tokenFor(url + TOKEN_PATH);
    const duration = histogramValue((await telemetry.metrics()).get("tollgate.upstream.mint.duration"));
    expect(duration.count).toBe(1);
    expect(duration.sum).toBeGreaterThanOrEqual(0.1);
    expect(duration.sum).toBeLessThan(100);
  });

  it("names its tracer and meter after the package and its version", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    await tokenFor(tokenUrl);
    const { version } = (await import("../package.json", { with: { type: "json" } })).default;
    const issue = only(telemetry, "tollgate.issue");
    expect(issue.instrumentationScope).toMatchObject({ name: "tollgate", version });
    const scopes = (await telemetry.collect()).scopeMetrics.map((scope) => scope.scope);
    expect(scopes).toEqual([expect.objectContaining({ name: "tollgate", version })]);
  });

  it("continues the caller's trace from its traceparent header", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const init = asUser("alice");
    const response = await fetch(tokenUrl, { ...init, headers: { ...(init.headers as Record<string, string>), traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(response.status).toBe(200);
    expect(only(telemetry, "tollgate.issue").spanContext().traceId).toBe(traceId);
  });
});

describe("a retried upstream", () => {
  it("shows each attempt as a client span, the failed one with error.type, and counts the retry", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    upstream.emulator.inject({ status: 503 });
    await tokenFor(tokenUrl);

    const issue = only(telemetry, "tollgate.issue");
    const attempts = byName(telemetry, "POST /v1/auth/session-token").sort((a, b) => Number(a.attributes["http.request.resend_count"] ?? 0) - Number(b.attributes["http.request.resend_count"] ?? 0));
    expect(attempts).toHaveLength(2);
    expect(attempts.every((span) => parentOf(span) === issue.spanContext().spanId)).toBe(true);
    expect(attempts[0]!.attributes).toMatchObject({ "http.response.status_code": 503, "error.type": "503" });
    expect(attempts[0]!.attributes["http.request.resend_count"]).toBeUndefined();
    expect(attempts[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempts[1]!.attributes).toMatchObject({ "http.response.status_code": 200, "http.request.resend_count": 1 });
    expect(attempts[1]!.attributes["error.type"]).toBeUndefined();

    expect(spanEvents(issue)).toEqual(["tollgate.requested", "tollgate.minting", "tollgate.retried", "tollgate.minting", "tollgate.minted", "tollgate.issued"]);
    expect(issue.events.find((event) => event.name === "tollgate.retried")?.attributes).toMatchObject({ "error.type": "503", "tollgate.attempt": 1 });
    expect(issue.status.code).toBe(SpanStatusCode.UNSET);

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.upstream.mint.attempts"))).toBe(2);
    expect(counterValue(metrics.get("tollgate.upstream.mint.retries"), { "error.type": "503" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.tokens.issued"))).toBe(1);
    expect(counterValue(metrics.get("tollgate.token.failures"))).toBe(0);
  });

  it("that fails after its retries is a 503, an issue span in error and a failure counted by error.type", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    upstream.emulator.inject({ status: 503 }, { status: 502 }, { status: 503 });
    const response = await fetch(tokenUrl, asUser("alice"));
    expect(response.status).toBe(503);

    const server = only(telemetry, `POST ${TOKEN_PATH}`);
    const issue = only(telemetry, "tollgate.issue");
    const attempts = byName(telemetry, "POST /v1/auth/session-token");
    expect(attempts).toHaveLength(3);
    expect(attempts.map((span) => span.attributes["error.type"]).sort()).toEqual(["502", "503", "503"]);
    expect(attempts.every((span) => span.status.code === SpanStatusCode.ERROR)).toBe(true);

    expect(issue.status.code).toBe(SpanStatusCode.ERROR);
    expect(issue.attributes).toMatchObject({ "error.type": "upstream_unavailable", "http.response.status_code": 503 });
    expect(spanEvents(issue)).toEqual([
      "tollgate.requested",
      "tollgate.minting",
      "tollgate.retried",
      "tollgate.minting",
      "tollgate.retried",
      "tollgate.minting",
      "tollgate.failed",
    ]);
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes["error.type"]).toBe("503");

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.upstream.mint.attempts"))).toBe(3);
    expect(counterValue(metrics.get("tollgate.upstream.mint.retries"))).toBe(2);
    expect(counterValue(metrics.get("tollgate.token.failures"), { "error.type": "upstream_unavailable", "tollgate.profile": "support" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.tokens.issued"))).toBe(0);
    expect(histogramValue(metrics.get("tollgate.upstream.mint.duration")).count).toBe(0);
  });
});

describe("a reused token", () => {
  it("is a cache_hit event, no upstream span, and an issued point with cache_hit true", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    const first = await tokenFor(tokenUrl);
    const second = await tokenFor(tokenUrl);
    expect(second).toBe(first);

    const issues = byName(telemetry, "tollgate.issue");
    expect(issues).toHaveLength(2);
    const reused = issues.find((span) => spanEvents(span).includes("tollgate.cache_hit"))!;
    expect(spanEvents(reused)).toEqual(["tollgate.requested", "tollgate.cache_hit", "tollgate.issued"]);
    const upstreamSpans = byName(telemetry, "POST /v1/auth/session-token");
    expect(upstreamSpans).toHaveLength(1);
    expect(parentOf(upstreamSpans[0]!)).not.toBe(reused.spanContext().spanId);

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.cache.hits"), { "tollgate.profile": "support" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.tokens.issued"), { "tollgate.cache_hit": true })).toBe(1);
    expect(counterValue(metrics.get("tollgate.tokens.issued"), { "tollgate.cache_hit": false })).toBe(1);
    expect(counterValue(metrics.get("tollgate.token.requests"))).toBe(2);
  });

  it("with a tracer and no meter still carries its events, the token's fingerprint among them", async () => {
    // The events are built only when something records them; a recording span is enough.
    const telemetry = inMemoryTelemetry();
    const { url } = await listen("handler", plainHandler({ tracerProvider: telemetry.tracerProvider }));
    await tokenFor(url + TOKEN_PATH);
    await tokenFor(url + TOKEN_PATH);

    const reused = byName(telemetry, "tollgate.issue").find((span) => spanEvents(span).includes("tollgate.cache_hit"))!;
    expect(spanEvents(reused)).toEqual(["tollgate.requested", "tollgate.cache_hit", "tollgate.issued"]);
    expect(reused.events.find((event) => event.name === "tollgate.cache_hit")?.attributes?.["tollgate.token.fingerprint"]).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe("denials", () => {
  it("401 is a denied event with error.type, an unset span status and a denial counted", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    const response = await fetch(tokenUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"personaType":"support"}' });
    expect(response.status).toBe(401);

    const issue = only(telemetry, "tollgate.issue");
    const server = only(telemetry, `POST ${TOKEN_PATH}`);
    expect(spanEvents(issue)).toEqual(["tollgate.requested", "tollgate.denied"]);
    expect(issue.events[1]!.attributes).toMatchObject({ "error.type": "unauthenticated", "http.response.status_code": 401 });
    expect(issue.attributes["error.type"]).toBe("unauthenticated");
    expect(issue.status.code).toBe(SpanStatusCode.UNSET);
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(server.attributes["http.response.status_code"]).toBe(401);
    expect(server.attributes["error.type"]).toBeUndefined();

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.token.denials"), { "error.type": "unauthenticated" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.token.failures"))).toBe(0);
    expect(byName(telemetry, "POST /v1/auth/session-token")).toHaveLength(0);
  });

  it("403 is a denied event with error.type forbidden and a denial counted", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    const response = await fetch(tokenUrl, asUser("mallory"));
    expect(response.status).toBe(403);

    const issue = only(telemetry, "tollgate.issue");
    expect(spanEvents(issue)).toEqual(["tollgate.requested", "tollgate.denied"]);
    expect(issue.attributes).toMatchObject({ "error.type": "forbidden", "http.response.status_code": 403 });
    expect(issue.attributes["enduser.pseudo.id"]).toMatch(/^[0-9a-f]{12}$/);
    expect(issue.status.code).toBe(SpanStatusCode.UNSET);

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.token.denials"), { "error.type": "forbidden" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.token.denials"), { "error.type": "unauthenticated" })).toBe(0);
  });

  it("429 (rate_limited) is a span event, an unset span status and a rejected rate-limit decision", { timeout: 40_000 }, async () => {
    await clearOfWindowEdge(60_000);
    const { telemetry, tokenUrl } = await tracedServer({ rateLimit: { limits: [{ name: "per-user", limit: 1, windowMs: 60_000 }] } });
    await tokenFor(tokenUrl);
    const response = await fetch(tokenUrl, asUser("alice"));
    expect(response.status).toBe(429);

    const limited = byName(telemetry, "tollgate.issue").find((span) => span.attributes["error.type"] === "rate_limited")!;
    expect(spanEvents(limited)).toEqual(["tollgate.requested", "tollgate.rate_limited"]);
    expect(limited.events[1]!.attributes).toMatchObject({ "http.response.status_code": 429, "tollgate.rate_limit.name": "per-user", "tollgate.profile": "support" });
    expect(limited.attributes).toMatchObject({ "http.response.status_code": 429, "tollgate.profile": "support" });
    expect(limited.status.code).toBe(SpanStatusCode.UNSET);
    expect(byName(telemetry, `POST ${TOKEN_PATH}`).every((span) => span.status.code === SpanStatusCode.UNSET)).toBe(true);

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.rate_limit.decisions"), { "tollgate.rate_limit.outcome": "rejected", "tollgate.rate_limit.name": "per-user" })).toBe(1);
    expect(counterValue(metrics.get("tollgate.rate_limit.decisions"), { "tollgate.rate_limit.outcome": "allowed" })).toBe(1);
    expect(metrics.get("tollgate.rate_limit.decisions")?.descriptor.unit).toBe("{decision}");
    expect(counterValue(metrics.get("tollgate.token.failures"))).toBe(0);
    expect(counterValue(metrics.get("tollgate.tokens.issued"))).toBe(1);
  });

  it("rate_limited through the listener alone records the same span event and decision", async () => {
    // For apps that run tollgate's limiter, or their own, outside the handler and emit the event.
    const telemetry = inMemoryTelemetry();
    const listener = telemetryListener({ meterProvider: telemetry.meterProvider });
    telemetry.tracerProvider.getTracer("test").startActiveSpan("tollgate.issue", (span) => {
      listener({ name: "rate_limited", time: Date.now(), provider: "anam", profile: "support", user: "0123456789ab", status: 429, limit: "user" });
      span.end();
    });
    expect(spanEvents(only(telemetry, "tollgate.issue"))).toEqual(["tollgate.rate_limited"]);
    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.rate_limit.decisions"), { "tollgate.rate_limit.outcome": "rejected", "tollgate.rate_limit.name": "user" })).toBe(1);
  });
});

describe("failures before the upstream", () => {
  it("an unknown persona type is a failed event, and the browser's text reaches no span or metric", async () => {
    const { telemetry, tokenUrl } = await tracedServer();
    const freeText = "ignore_previous_instructions";
    const response = await fetch(tokenUrl, asUser("alice", { personaType: freeText }));
    expect(response.status).toBe(400);

    const issue = only(telemetry, "tollgate.issue");
    expect(spanEvents(issue)).toEqual(["tollgate.requested", "tollgate.failed"]);
    expect(issue.attributes["error.type"]).toBe("unknown_profile");
    expect(issue.status.code).toBe(SpanStatusCode.UNSET);
    expect(JSON.stringify(telemetry.spans().map((span) => [span.attributes, span.events]))).not.toContain("ignore_previous");

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.token.failures"), { "error.type": "unknown_profile" })).toBe(1);
    expect(JSON.stringify([...metrics.values()].map((metric) => metric.dataPoints.map((point) => point.attributes)))).not.toContain("ignore_previous");
  });
});

describe("the usage route", () => {
  it("started: evicted and used events on the usage span, a used token and an active session", async () => {
    const { telemetry, tokenUrl, usageUrl } = await tracedServer();
    const token = await tokenFor(tokenUrl);
    const started = await fetch(usageUrl, asUser("alice", { sessionToken: token, event: "started" }));
    expect(started.status).toBe(204);

    const usage = only(telemetry, "tollgate.usage");
    expect(parentOf(usage)).toBe(only(telemetry, `POST ${USAGE_PATH}`).spanContext().spanId);
    expect(spanEvents(usage)).toEqual(["tollgate.evicted", "tollgate.started"]);
    expect(usage.events[0]!.attributes).toMatchObject({ "tollgate.eviction.reason": "started" });
    expect(usage.events[1]!.attributes?.["tollgate.token.fingerprint"]).toMatch(/^[0-9a-f]{12}$/);

    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.tokens.used"))).toBe(1);
    expect(counterValue(metrics.get("tollgate.sessions.active"))).toBe(1);
    expect(counterValue(metrics.get("tollgate.cache.evictions"), { "tollgate.eviction.reason": "started" })).toBe(1);
  });

  it("ended: a session duration in seconds, one session fewer in progress, and a repeated report changes nothing", async () => {
    const { telemetry, tokenUrl, usageUrl } = await tracedServer();
    const token = await tokenFor(tokenUrl);
    expect((await fetch(usageUrl, asUser("alice", { sessionToken: token, event: "started" }))).status).toBe(204);
    expect((await fetch(usageUrl, asUser("alice", { sessionToken: token, event: "ended", durationMs: 95_000 }))).status).toBe(204);
    expect((await fetch(usageUrl, asUser("alice", { sessionToken: token, event: "ended", durationMs: 95_000 }))).status).toBe(204);

    const usages = byName(telemetry, "tollgate.usage");
    expect(usages.map(spanEvents)).toEqual([["tollgate.evicted", "tollgate.started"], ["tollgate.ended"], []]);
    expect(usages[1]!.events[0]!.attributes).toMatchObject({ "tollgate.duration": 95 });

    const metrics = await telemetry.metrics();
    expect(histogramValue(metrics.get("tollgate.session.duration"))).toEqual({ count: 1, sum: 95 });
    expect(metrics.get("tollgate.session.duration")?.descriptor.unit).toBe("s");
    expect(counterValue(metrics.get("tollgate.sessions.active"))).toBe(0);
    expect(counterValue(metrics.get("tollgate.tokens.used"))).toBe(1);
  });

  it("a report for a token nobody issued is a failed event on the usage span", async () => {
    const { telemetry, usageUrl } = await tracedServer();
    const response = await fetch(usageUrl, asUser("alice", { sessionToken: "not-a-token-we-know", event: "started" }));
    expect(response.status).toBe(404);
    expect(spanEvents(only(telemetry, "tollgate.usage"))).toEqual(["tollgate.failed"]);
    const metrics = await telemetry.metrics();
    expect(counterValue(metrics.get("tollgate.token.failures"), { "error.type": "token_not_found" })).toBe(1);
  });
});

describe("user ids", () => {
  it("appear only as a short hash unless the app opts in", async () => {
    const hashed = await tracedServer();
    await tokenFor(hashed.tokenUrl);
    const everything = JSON.stringify(hashed.telemetry.spans().map((span) => [span.attributes, span.events]));
    expect(everything).not.toContain('"alice"');
    expect(everything).not.toContain("enduser.id");

    const named = await tracedServer({ recordUserIds: true });
    await tokenFor(named.tokenUrl);
    expect(only(named.telemetry, "tollgate.issue").attributes["enduser.id"]).toBe("alice");
  });
});

describe("without injected providers", () => {
  it("uses the global ones, and records nothing while they are the API's no-ops", async () => {
    expect(trace.getTracerProvider().getTracer("x").startSpan("probe").isRecording()).toBe(false);
    const handler = plainHandler();
    const { url } = await listen("handler", handler);
    expect((await fetch(url + TOKEN_PATH, asUser("alice"))).status).toBe(200);
  });

  it("has a listener that hears events only while an SDK's meter or a recording span would record them", () => {
    // Nothing is registered globally here: the global meter is the API's no-op for good.
    expect(telemetryListener().hears?.()).toBe(false);
    const telemetry = inMemoryTelemetry();
    expect(telemetryListener({ meterProvider: telemetry.meterProvider }).hears?.()).toBe(true);

    const withoutMeter = telemetryListener();
    telemetry.tracerProvider.getTracer("app").startActiveSpan("request", (span) => {
      expect(withoutMeter.hears?.()).toBe(true);
      span.end();
    });
    expect(withoutMeter.hears?.()).toBe(false);
  });
});

describe("a sampled-out issue span", () => {
  it("stays the parent of the upstream attempt, which follows its decision rather than starting a trace", async () => {
    // Samples every root span but tollgate's own; a child follows its parent's decision.
    const allButTheIssueSpan: Sampler = {
      shouldSample: (_context, _traceId, name) => ({ decision: name === "tollgate.issue" ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED }),
      toString: () => "AllButTheIssueSpan",
    };
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ sampler: new ParentBasedSampler({ root: allButTheIssueSpan }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const handler = plainHandler({ tracerProvider });
    const { url } = await listen("handler", handler);
    const mintsBefore = upstream.emulator.stats.tokensIssued;
    expect((await fetch(url + TOKEN_PATH, asUser("alice"))).status).toBe(200);
    expect(upstream.emulator.stats.tokensIssued).toBe(mintsBefore + 1);
    // Had the issue span not been made the active context, the attempt would be a sampled root.
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual([]);
  });
});

describe("an app that makes its own server span", () => {
  it("gets tollgate's spans beneath it, and withServerSpan enriches it instead of making a second", async () => {
    const telemetry = inMemoryTelemetry();
    const tracer = telemetry.tracerProvider.getTracer("the-app");
    const handler = plainHandler({ tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider });
    const served = withServerSpan(handler, { routes: [TOKEN_PATH], tracerProvider: telemetry.tracerProvider });
    // The app's instrumentation, as a framework would add it around every request.
    const { url } = await listen("handler", (request) => tracer.startActiveSpan("app request", { kind: SpanKind.SERVER }, async (span) => {
      try {
        return await served(request);
      } finally {
        span.end();
      }
    }));
    expect((await fetch(url + TOKEN_PATH, asUser("alice"))).status).toBe(200);

    const servers = telemetry.spans().filter((span) => span.kind === SpanKind.SERVER);
    expect(servers).toHaveLength(1);
    expect(servers[0]!.name).toBe(`POST ${TOKEN_PATH}`);
    expect(servers[0]!.instrumentationScope.name).toBe("the-app");
    expect(servers[0]!.attributes["http.route"]).toBe(TOKEN_PATH);
    expect(parentOf(only(telemetry, "tollgate.issue"))).toBe(servers[0]!.spanContext().spanId);
  });
});

describe("attribute values", () => {
  it("that are not short names become 'other', so free text never reaches a backend", () => {
    const attributes = eventAttributes({ name: "failed", time: 0, provider: "anam", errorType: "Anam answered 401: key sk_live_abc is revoked", profile: "support" });
    expect(attributes["error.type"]).toBe("other");
    expect(attributes["tollgate.profile"]).toBe("support");
  });
});
