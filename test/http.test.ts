import { describe, expect, it } from "vitest";
import { jsonResponse } from "../src/http.ts";

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
