import { anam, createTokenHandler } from "../src/index.ts";
import { createAnamEmulator } from "../src/emulator/index.ts";
const emulator = createAnamEmulator({ apiKey: "bench" });
const tokens = createTokenHandler({
  provider: anam({ apiKey: "bench", fetch: (input, init) => emulator.fetch(new Request(input, init)) }),
  authenticate: (request) => (request.headers.get("Authorization") === `Bearer u` ? { id: "bench-user" } : null),
  personas: { support: { name: "Cara", avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18", voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b", llmId: "ANAM_GPT_4O_MINI_V1", systemPrompt: "You are Cara." } },
});
const req = () => new Request("http://bench/api/session-token", { method: "POST", headers: { Authorization: `Bearer u`, "Content-Type": "application/json" }, body: JSON.stringify({ personaType: "support" }) });
await (await tokens(req())).text();
const bare = async (r: Request) => new Response("x", { headers: { "Content-Type": "application/json" } });
const best: Record<string, number> = {};
for (let round = 0; round < 6; round++) for (const [name, h] of [["bare", bare], ["tollgate", tokens]] as const) {
  const n = 5000; const t = performance.now();
  for (let i = 0; i < n; i++) await (await h(req())).text();
  best[name] = Math.min(best[name] ?? 1e9, (performance.now() - t) / n * 1000);
}
console.log(Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(1)}us`).join("  "));
