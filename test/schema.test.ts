import { describe, expect, it } from "vitest";
import { ValidationError, parsePersonaConfig, parseSessionOptions } from "../src/index.ts";
import { backoffDelay, resolveRetryOptions } from "../src/retry.ts";
import { parseRetryAfter } from "../src/providers/anam.ts";
import { PERSONAS } from "./support/personas.ts";

describe("persona configs", () => {
  it("accepts a stateful config by persona id", () => {
    expect(parsePersonaConfig({ personaId: "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b" })).toEqual({ personaId: "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b" });
  });

  it("accepts an ephemeral config and folds the deprecated brainType into llmId", () => {
    const config = parsePersonaConfig(PERSONAS.sales);
    expect(config).toMatchObject({ llmId: "ANAM_LLAMA_v3_3_70B_V1" });
    expect(config).not.toHaveProperty("brainType");
  });

  it("refuses a config that names two different models", () => {
    expect(() => parsePersonaConfig({ ...PERSONAS.support, brainType: "CUSTOMER_CLIENT_V1" })).toThrow(/brainType and llmId/);
  });

  it.each([
    [{ ...PERSONAS.support, avatarId: "30fa96d0" }, /avatarId: must be a UUID/],
    [{ ...PERSONAS.support, voiceId: undefined }, /voiceId/],
    [{ ...PERSONAS.support, llmId: "GPT-9" }, /llmId/],
    [{ ...PERSONAS.support, maxSessionLengthSeconds: 1.5 }, /maxSessionLengthSeconds/],
    [{ ...PERSONAS.support, languageCode: "English" }, /languageCode/],
    [{ ...PERSONAS.support, systemPromt: "typo" }, /systemPromt/],
    [{ personaId: "not-a-uuid" }, /personaId/],
    [{ personaId: "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b", name: "mixed" }, /name/],
    ["a string", /must be an object/],
    [null, /must be an object/],
  ])("refuses %j", (input, message) => {
    expect(() => parsePersonaConfig(input)).toThrow(ValidationError);
    expect(() => parsePersonaConfig(input)).toThrow(message);
  });

  it("passes unknown keys through only when asked to", () => {
    const withNewField = { ...PERSONAS.support, avatarModel: "cara-3", newAnamField: { on: true } };
    expect(() => parsePersonaConfig(withNewField)).toThrow(/newAnamField/);
    expect(parsePersonaConfig(withNewField, { passthroughUnknownKeys: true })).toMatchObject({ newAnamField: { on: true } });
  });

  it("types the nested session options", () => {
    expect(parseSessionOptions({ sessionReplay: { enableSessionReplay: false } })).toEqual({ sessionReplay: { enableSessionReplay: false } });
    expect(() => parseSessionOptions({ sessionReplay: { enableSessionReplay: "no" } })).toThrow(/enableSessionReplay/);
  });
});

describe("retry timing", () => {
  it("draws backoff uniformly under a doubling, capped ceiling", () => {
    const highest = resolveRetryOptions({ baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, highest))).toEqual([99, 199, 399, 799, 999]);
    const lowest = resolveRetryOptions({ random: () => 0 });
    expect(backoffDelay(3, lowest)).toBe(0);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("7")).toBe(7_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(inTenSeconds)).toBeGreaterThan(8_000);
    expect(parseRetryAfter(inTenSeconds)).toBeLessThanOrEqual(10_000);
  });
});
