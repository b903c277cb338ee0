import { describe, expect, it } from "vitest";
import { TollgateError } from "../src/errors.ts";
import { isUsagePath, jsonResponse, readJsonBody } from "../src/http.ts";

describe("jsonResponse", () => {
  it("sends the JSON text with the rate-limit fields when given, and never lets a cache keep it", async () => {
    const limited = jsonResponse('{"a":1}', { "RateLimit-Policy": '"user";q=10;w=3600', RateLimit: '"user";r=9;t=3600' });
    expect(await limited.json()).toEqual({ a: 1 });
    expect(limited.headers.get("Content-Type")).toBe("application/json");
    expect(limited.headers.get("Cache-Control")).toBe("no-store");
    expect(limited.headers.get("RateLimit")).toBe('"user";r=9;t=3600');
    const plain = jsonResponse("[]");
    expect(plain.headers.get("RateLimit-Policy")).toBeNull();
    expect(plain.headers.get("Cache-Control")).toBe("no-store");
  });
});

describe("isUsagePath", () => {
  it("reads the path alone: a query, a fragment or trailing slashes never change the route", () => {
    const usage = ["http://h/api/session-token/usage", "http://h/usage/", "https://h:8443/a/usage//?x=1", "http://h/api/usage#top", "http://user@h/usage?next=/token"];
    const token = ["http://h/api/session-token", "http://h/api/session-token?next=/usage", "http://h/a#/usage", "http://h/usage-report", "http://h/ausage", "http://h"];
    for (const url of usage) expect(isUsagePath(url), url).toBe(true);
    for (const url of token) expect(isUsagePath(url), url).toBe(false);
    // The same answers as the URL parser's pathname would give.
    for (const url of [...usage, ...token]) expect(isUsagePath(url), url).toBe(/\/usage\/*$/.test(new URL(url).pathname));
  });
});

describe("readJsonBody", () => {
  it("answers a body whose connection went away before it was whole with a 400, not a 500", async () => {
    for (const length of ["40", null]) {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"profile":'));
          controller.error(new Error("BadResource: Cannot read body as underlying resource unavailable"));
        },
      });
      const headers: Record<string, string> = { "Content-Type": "application/json", ...(length ? { "Content-Length": length } : {}) };
      const request = new Request("http://h/api/session-token", { method: "POST", headers, body, duplex: "half" } as RequestInit);
      const error = await readJsonBody(request, 1024).then(() => undefined, (thrown: unknown) => thrown);
      expect(error, `Content-Length ${length}`).toBeInstanceOf(TollgateError);
      expect((error as TollgateError).status).toBe(400);
      expect((error as TollgateError).detail).toBe("The body could not be read in full");
    }
  });
});
