import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenHandler, OptionError } from "../src/index.ts";
import { anam } from "../src/providers/anam/index.ts";
import { createServerApp } from "../server/app.ts";
import { ConfigError, readConfig } from "../server/config.ts";
import { PERSONAS, asUser, authenticate, authorize } from "./support/personas.ts";
import { TEST_API_KEY, capturingLogger, closeAll, listen, startUpstream } from "./support/servers.ts";
import { clearOfWindowEdge } from "./support/windows.ts";

// CORS as a browser meets it, over real HTTP: the handler with `cors: { origins }` on one loopback
// port (the Anam emulator on another), and the standalone server with TOLLGATE_CORS_ORIGINS.

const ALLOWED = "https://app.example.com";
const OTHER = "https://evil.example.net";

let handlerUrl: string;
let cookieUrl: string;
let tracedUrl: string;
let serverUrl: string;
let closeServer: () => Promise<void>;

beforeAll(async () => {
  const upstream = await startUpstream();
  const options = {
    provider: anam({ apiKey: TEST_API_KEY, baseUrl: upstream.url }),
    authenticate,
    authorize,
    personas: PERSONAS,
    logger: capturingLogger(),
    // One token per user a minute: the second request is a 429.
    rateLimit: "1/1m",
  };
  handlerUrl = (await listen("cors-handler", createTokenHandler({ ...options, cors: { origins: [ALLOWED, "http://127.0.0.1:5173"] } }))).url + "/api/session-token";
  cookieUrl = (await listen("cors-cookies", createTokenHandler({ ...options, cors: { origins: [ALLOWED], credentials: true } }))).url + "/api/session-token";
  tracedUrl = (await listen("cors-traced", createTokenHandler({ ...options, cors: { origins: [ALLOWED], allowHeaders: ["Authorization", "Content-Type", "traceparent", "tracestate"] } }))).url + "/api/session-token";
  const app = await createServerApp(readConfig({ TOLLGATE_CORS_ORIGINS: `${ALLOWED}, http://localhost:3000`, TOLLGATE_CORS_HEADERS: "traceparent, tracestate" }), capturingLogger());
  serverUrl = (await listen("cors-server", app.fetch)).url;
  closeServer = app.close;
});
afterAll(async () => {
  await closeServer?.();
  await closeAll();
});

function preflight(url: string, origin: string, method = "POST", requestHeaders = "authorization, content-type"): Promise<Response> {
  return fetch(url, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": requestHeaders } });
}

/**
 * Whether a browser would let the request after this preflight go: the origin allowed, and every
 * header it asked for listed (the Fetch standard's CORS check, for the parts used here).
 */
function passes(response: Response, origin: string, requestHeaders: string): boolean {
  const allowed = (response.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(/,\s*/);
  return response.ok && response.headers.get("Access-Control-Allow-Origin") === origin && requestHeaders.split(/,\s*/).every((name) => allowed.includes(name));
}

const TRACED = "authorization, content-type, traceparent, tracestate";

function withOrigin(init: RequestInit, origin: string): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string>), Origin: origin } };
}

const varyOf = (response: Response) => (response.headers.get("Vary") ?? "").split(",").map((field) => field.trim().toLowerCase());
const corsFields = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));

describe("CORS in the handler", () => {
  for (const route of ["", "/usage"]) {
    it(`answers a preflight from an allowed origin on ${route || "the token route"}`, async () => {
      const response = await preflight(handlerUrl + route, ALLOWED);
      expect(response.status).toBe(204);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
      expect(response.headers.get("Access-Control-Allow-Methods")).toContain("POST");
      expect(response.headers.get("Access-Control-Allow-Headers")?.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(["authorization", "content-type"]));
      expect(Number(response.headers.get("Access-Control-Max-Age"))).toBeGreaterThan(0);
      expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
      expect(varyOf(response)).toContain("origin");
    });

    it(`gives a preflight from any other origin no CORS field on ${route || "the token route"}`, async () => {
      for (const origin of [OTHER, "https://app.example.com.evil.net", "null", "https://APP.example.com"]) {
        const response = await preflight(handlerUrl + route, origin);
        expect(corsFields(response), origin).toEqual([]);
      }
    });
  }

  it("puts the allowed origin and Vary: Origin on every answer: 200, 204, 400, 401, 403, 429", async () => {
    await clearOfWindowEdge(60_000);
    const minted = await fetch(handlerUrl, withOrigin(asUser("alice"), ALLOWED));
    const { token } = (await minted.json()) as { token: string };
    const answers = {
      200: minted,
      204: await fetch(`${handlerUrl}/usage`, withOrigin(asUser("alice", { token, event: "started" }), ALLOWED)),
      400: await fetch(handlerUrl, withOrigin(asUser("bob", { profile: "no-such-profile" }), ALLOWED)),
      401: await fetch(handlerUrl, withOrigin({ method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }, ALLOWED)),
      403: await fetch(handlerUrl, withOrigin(asUser("mallory"), ALLOWED)),
      429: await fetch(handlerUrl, withOrigin(asUser("alice"), ALLOWED)),
    };
    for (const [status, response] of Object.entries(answers)) {
      expect(response.status, status).toBe(Number(status));
      expect(response.headers.get("Access-Control-Allow-Origin"), status).toBe(ALLOWED);
      expect(varyOf(response), status).toContain("origin");
    }
    // What a page needs to read to wait out a refusal.
    const exposed = answers[429].headers.get("Access-Control-Expose-Headers")?.toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["retry-after", "ratelimit", "ratelimit-policy"]));
    expect(answers[429].headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(answers[401].headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
  });

  it("answers another origin as usual but with no CORS field, so that its page cannot read it", async () => {
    const denied = await fetch(handlerUrl, withOrigin({ method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }, OTHER));
    expect(denied.status).toBe(401);
    expect(corsFields(denied)).toEqual([]);
    expect(varyOf(denied)).toContain("origin");
    const minted = await fetch(handlerUrl, withOrigin(asUser("bob"), OTHER));
    expect(minted.status).toBe(200);
    expect(corsFields(minted)).toEqual([]);
  });

  it("allows credentials only when asked to", async () => {
    const response = await preflight(cookieUrl, ALLOWED);
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    const answer = await fetch(cookieUrl, withOrigin({ method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }, ALLOWED));
    expect(answer.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
    expect(corsFields(await preflight(cookieUrl, OTHER))).toEqual([]);
  });

  it("refuses origins that are not origins when the handler is made, naming the option", () => {
    const make = (origins: unknown) => () => createTokenHandler({ provider: anam.emulated(), authenticate, personas: PERSONAS, cors: { origins: origins as string[] } });
    for (const origins of [["app.example.com"], ["https://app.example.com/"], ["https://app.example.com/path"], "https://app.example.com"]) {
      expect(make(origins)).toThrow(OptionError);
      expect(make(origins)).toThrow(/cors\.origins/);
    }
  });

  it("lets a page send traceparent when allowHeaders lists it, and not by default", async () => {
    expect(passes(await preflight(tracedUrl, ALLOWED, "POST", TRACED), ALLOWED, TRACED)).toBe(true);
    expect(passes(await preflight(handlerUrl, ALLOWED, "POST", TRACED), ALLOWED, TRACED)).toBe(false);
    const plain = await preflight(handlerUrl, ALLOWED);
    expect(plain.headers.get("Access-Control-Allow-Headers")).toBe("Authorization, Content-Type");
  });

  it("refuses allowHeaders that are not header names when the handler is made, naming the option", () => {
    const make = (allowHeaders: unknown) => () => createTokenHandler({ provider: anam.emulated(), authenticate, personas: PERSONAS, cors: { origins: [ALLOWED], allowHeaders: allowHeaders as string[] } });
    expect(make("traceparent")).toThrow('cors.allowHeaders: must be a list of header names, like ["Authorization", "Content-Type", "traceparent"]');
    expect(make(["Authorization", "trace parent"])).toThrow('cors.allowHeaders: "trace parent" is not a header name');
  });

  it("answers OPTIONS with 405 when CORS is off", async () => {
    const plain = (await listen("no-cors", createTokenHandler({ provider: anam.emulated(), authenticate, personas: PERSONAS, logger: capturingLogger() }))).url + "/api/session-token";
    const response = await preflight(plain, ALLOWED);
    expect(response.status).toBe(405);
    expect(corsFields(response)).toEqual([]);
  });
});

describe("CORS in the standalone server (TOLLGATE_CORS_ORIGINS)", () => {
  for (const path of ["/api/session-token", "/api/session-token/usage"]) {
    it(`answers preflights on ${path} for the listed origins only`, async () => {
      for (const origin of [ALLOWED, "http://localhost:3000"]) {
        const response = await preflight(serverUrl + path, origin);
        expect(response.status).toBe(204);
        expect(response.headers.get("Access-Control-Allow-Origin")).toBe(origin);
        expect(varyOf(response)).toContain("origin");
      }
      expect(corsFields(await preflight(serverUrl + path, OTHER))).toEqual([]);
    });
  }

  it("puts the allowed origin and Vary: Origin on a 401", async () => {
    const response = await fetch(`${serverUrl}/api/session-token`, withOrigin({ method: "POST", headers: { "Content-Type": "application/json" }, body: '{"profile":"anam"}' }, ALLOWED));
    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
    expect(varyOf(response)).toContain("origin");
  });

  it("lets pages send the headers of TOLLGATE_CORS_HEADERS beside Authorization and Content-Type", async () => {
    expect(passes(await preflight(`${serverUrl}/api/session-token`, ALLOWED, "POST", TRACED), ALLOWED, TRACED)).toBe(true);
    expect(() => readConfig({ TOLLGATE_CORS_ORIGINS: ALLOWED, TOLLGATE_CORS_HEADERS: "traceparent, x y" })).toThrow('TOLLGATE_CORS_HEADERS: "x y" is not a header name such as traceparent');
    expect(() => readConfig({ TOLLGATE_CORS_HEADERS: "traceparent" })).toThrow("TOLLGATE_CORS_HEADERS needs TOLLGATE_CORS_ORIGINS");
  });

  it("refuses a list entry that is not an origin at start-up, naming the variable", () => {
    expect(() => readConfig({ TOLLGATE_CORS_ORIGINS: "https://app.example.com, app.example.com" })).toThrow(ConfigError);
    expect(() => readConfig({ TOLLGATE_CORS_ORIGINS: "https://app.example.com/" })).toThrow(/TOLLGATE_CORS_ORIGINS/);
  });
});
