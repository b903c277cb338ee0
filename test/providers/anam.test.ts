import { describe, expect, it } from "vitest";
import * as v from "valibot";
import { ValidationError, parseConfig } from "../../src/index.ts";
import { anam, sessionOptionsSchema } from "../../src/providers/anam/index.ts";
import { PERSONAS } from "../support/personas.ts";
import { demoToken } from "./demo-token.ts";

// Anam's persona configs, as the provider's schema checks them before any upstream call.

const provider = anam({ apiKey: "k" });
const parsePersonaConfig = (input: unknown, options: { passthroughUnknownKeys?: boolean } = {}) =>
  parseConfig(options.passthroughUnknownKeys ? anam({ apiKey: "k", passthroughUnknownKeys: true }) : provider, input);
const parseSessionOptions = (input: unknown) => {
  const result = v.safeParse(sessionOptionsSchema(), input);
  if (!result.success) throw new ValidationError(result.issues.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`).join("; "));
  return result.output;
};

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
    ["a string", /Expected Object/],
    [null, /Expected Object/],
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


describe("the demo profile", () => {
  it("mints a single-use session token of an hour on the emulator", async () => {
    const { lifetimeSeconds, use } = await demoToken(anam.emulated(), anam.demo);
    expect(use).toBe("single-use");
    expect(lifetimeSeconds).toBeCloseTo(3600, -1);
  });
});
