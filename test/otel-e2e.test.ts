import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PERSONAS } from "./support/personas.ts";
import { TEST_API_KEY, closeAll, startUpstream, type Upstream } from "./support/servers.ts";
import { pointTotal, spawnServer, startOtlpReceiver, userToken, type OtlpReceiver, type OtlpSpan, type ServerProcess } from "./support/otel-process.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The standalone server as operators run it: spawned with OTEL_* variables pointing at an OTLP/HTTP
// receiver on loopback, minting from the Anam emulator on another loopback port. What the receiver
// gets is checked against what the test did, and every byte the run exported or printed is
// searched for the API key, the issued tokens and the raw user id.

const USER_ID = "user-e2e-7f3a91";
const SERVICE_NAME = "tollgate-e2e";

let upstream: Upstream;
let receiver: OtlpReceiver;
let server: ServerProcess;
let personasDir: string;
const issuedTokens: string[] = [];
let prometheusText = "";

beforeAll(async () => {
  upstream = await startUpstream();
  receiver = await startOtlpReceiver();
  personasDir = mkdtempSync(join(tmpdir(), "tollgate-personas-"));
  writeFileSync(join(personasDir, "personas.json"), JSON.stringify(PERSONAS));
  server = await spawnServer({
    ANAM_API_KEY: TEST_API_KEY,
    ANAM_BASE_URL: upstream.url,
    TOLLGATE_PERSONAS: join(personasDir, "personas.json"),
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "300",
    OTEL_BSP_SCHEDULE_DELAY: "100",
    OTEL_SERVICE_NAME: SERVICE_NAME,
    TOLLGATE_METRICS: "prometheus",
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
  await closeAll();
  if (personasDir) rmSync(personasDir, { recursive: true, force: true });
});

async function post(path: string, bearer: string, body: unknown): Promise<Response> {
  return fetch(server.url + path, { method: "POST", headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

describe("a full run of the standalone server", () => {
  it("mints (after one retry), reuses, denies, fails upstream, and reports a session over HTTP", async () => {
    const bearer = await userToken(USER_ID);
    upstream.emulator.inject({ status: 503 });

    const minted = await post("/api/session-token", bearer, { personaType: "support" });
    expect(minted.status).toBe(200);
    const reused = await post("/api/session-token", bearer, { personaType: "support" });
    expect(reused.status).toBe(200);
    const mintedToken = ((await minted.json()) as { sessionToken: string }).sessionToken;
    expect(((await reused.json()) as { sessionToken: string }).sessionToken).toBe(mintedToken);
    issuedTokens.push(mintedToken);

    const other = await post("/api/session-token", bearer, { personaType: "sales" });
    expect(other.status).toBe(200);
    issuedTokens.push(((await other.json()) as { sessionToken: string }).sessionToken);

    expect((await post("/api/session-token", "not-a-jwt", { personaType: "support" })).status).toBe(401);

    // An upstream that refuses the key: the server explains it in an error log line.
    upstream.emulator.inject({ status: 401 });
    expect((await post("/api/session-token", await userToken("user-e2e-second"), { personaType: "support" })).status).toBe(502);

    expect((await post("/api/session-token/usage", bearer, { sessionToken: mintedToken, event: "started" })).status).toBe(204);
    expect((await post("/api/session-token/usage", bearer, { sessionToken: mintedToken, event: "ended", durationMs: 42_000 })).status).toBe(204);

    const scrape = await fetch(server.url + "/metrics");
    expect(scrape.status).toBe(200);
    prometheusText = await scrape.text();
    expect(prometheusText).toMatch(/^tollgate_tokens_issued_total\{.*tollgate_cache_hit="true".*\} 1$/m);
  });

  it("exports a trace holding the issue span with its upstream attempt spans under the server span", async () => {
    const issueSpans = await vi.waitFor(
      () => {
        const spans = receiver.traces().filter((span) => span.name === "tollgate.issue" && span.events.some((event) => event.name === "tollgate.retried"));
        expect(spans).toHaveLength(1);
        // The usage spans came last; once they are in, the whole run is.
        expect(receiver.traces().filter((span) => span.name === "tollgate.usage")).toHaveLength(2);
        return spans;
      },
      { timeout: 10_000, interval: 100 },
    );
    const spans = receiver.traces();
    const issue = issueSpans[0]!;
    const inTrace = spans.filter((span) => span.traceId === issue.traceId);
    const serverSpan = inTrace.find((span) => span.spanId === issue.parentSpanId);
    expect(serverSpan).toMatchObject({ name: "POST /api/session-token", kind: 2 });
    expect(serverSpan!.attributes).toMatchObject({ "http.request.method": "POST", "http.route": "/api/session-token", "http.response.status_code": 200 });
    expect(serverSpan!.parentSpanId).toBeUndefined();

    const attempts = inTrace.filter((span) => span.parentSpanId === issue.spanId);
    expect(attempts.map((span) => span.name)).toEqual(["POST /v1/auth/session-token", "POST /v1/auth/session-token"]);
    expect(attempts.every((span) => span.kind === 3)).toBe(true);
    const failed = attempts.find((span) => span.attributes["error.type"] === "503");
    const succeeded = attempts.find((span) => span.attributes["http.response.status_code"] === 200);
    expect(failed?.attributes).toMatchObject({ "http.response.status_code": 503, "server.address": "127.0.0.1", "url.full": `${upstream.url}/v1/auth/session-token` });
    expect(failed?.status?.code).toBe(2);
    expect(succeeded?.attributes["http.request.resend_count"]).toBe(1);

    expect(issue.events.map((event) => event.name)).toEqual([
      "tollgate.requested",
      "tollgate.minting",
      "tollgate.retried",
      "tollgate.minting",
      "tollgate.minted",
      "tollgate.issued",
    ]);
    expect(issue.scope.name).toBe("tollgate");
    expect(issue.resource["service.name"]).toBe(SERVICE_NAME);

    const denied = spans.find((span) => span.name === "tollgate.issue" && span.attributes["error.type"] === "unauthenticated") as OtlpSpan;
    expect(denied.events.map((event) => event.name)).toEqual(["tollgate.requested", "tollgate.denied"]);
    expect(spans.find((span) => span.spanId === denied.parentSpanId)?.status?.code ?? 0).toBe(0);

    const usage = spans.filter((span) => span.name === "tollgate.usage").flatMap((span) => span.events.map((event) => event.name));
    expect(usage).toEqual(["tollgate.evicted", "tollgate.started", "tollgate.ended"]);
  });

  it("exports the counters and histograms with the values of the run", async () => {
    const metrics = await vi.waitFor(
      () => {
        const latest = receiver.latestMetrics();
        expect(pointTotal(latest.get("tollgate.session.duration"), {}, "count")).toBe(1);
        return latest;
      },
      { timeout: 10_000, interval: 100 },
    );
    const issued = metrics.get("tollgate.tokens.issued");
    expect(issued?.unit).toBe("{token}");
    expect(pointTotal(issued)).toBe(3);
    expect(pointTotal(issued, { "tollgate.profile": "support", "tollgate.cache_hit": false })).toBe(1);
    expect(pointTotal(issued, { "tollgate.profile": "support", "tollgate.cache_hit": true })).toBe(1);
    expect(pointTotal(issued, { "tollgate.profile": "sales", "tollgate.cache_hit": false })).toBe(1);
    expect(pointTotal(metrics.get("tollgate.token.requests"))).toBe(5);
    expect(pointTotal(metrics.get("tollgate.token.denials"), { "error.type": "unauthenticated" })).toBe(1);
    expect(pointTotal(metrics.get("tollgate.upstream.mint.attempts"))).toBe(4);
    expect(pointTotal(metrics.get("tollgate.upstream.mint.retries"), { "error.type": "503" })).toBe(1);
    expect(pointTotal(metrics.get("tollgate.upstream.mint.duration"), {}, "count")).toBe(2);
    expect(metrics.get("tollgate.upstream.mint.duration")).toMatchObject({ unit: "s", kind: "histogram" });
    expect(pointTotal(metrics.get("tollgate.session.duration"), {}, "sum")).toBe(42);
    expect(metrics.get("tollgate.session.duration")?.unit).toBe("s");
    expect(pointTotal(metrics.get("tollgate.tokens.used"))).toBe(1);
    expect(pointTotal(metrics.get("tollgate.sessions.active"))).toBe(0);
    expect(pointTotal(metrics.get("tollgate.token.failures"))).toBe(1);
    expect(pointTotal(metrics.get("tollgate.token.failures"), { "error.type": "upstream_rejected", "tollgate.profile": "support" })).toBe(1);
  });

  it("leaves neither the API key, nor an issued token, nor the raw user id in any span, metric or log line", async () => {
    await server.stop();
    const exported = receiver.bodies.map((body) => body.text);
    const everything = [...exported, prometheusText, server.output()];
    expect(exported.length).toBeGreaterThan(0);
    expect(issuedTokens).toHaveLength(2);
    for (const text of everything) {
      expect(text).not.toContain(TEST_API_KEY);
      for (const token of issuedTokens) expect(text).not.toContain(token);
    }
    const telemetryOnly = [...exported, prometheusText].join("\n");
    expect(telemetryOnly).not.toContain(USER_ID);
    // What was searched is the real thing: the check above would pass on an empty export too.
    expect(telemetryOnly).toContain("tollgate.token.fingerprint");
    expect(server.output()).toMatch(/"level":"error".*Anam answered 401/);
  });
});
