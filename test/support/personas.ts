/** Persona configs and users shared by the suites. */

export const PERSONAS = {
  support: {
    name: "Cara",
    avatarId: "30fa96d0-26c4-4e55-94a0-517025942e18",
    voiceId: "6bfbe25a-979d-40f3-a92b-5394170af54b",
    llmId: "ANAM_GPT_4O_MINI_V1",
    systemPrompt: "You are a helpful customer service representative.",
  },
  sales: {
    name: "Leo",
    avatarId: "0a2f7f3e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    voiceId: "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    brainType: "ANAM_LLAMA_v3_3_70B_V1",
  },
} as const;

interface TestUser {
  id: string;
  canAccessPersonas: boolean;
}

const USERS: Record<string, TestUser> = {
  "alice-token": { id: "alice", canAccessPersonas: true },
  "bob-token": { id: "bob", canAccessPersonas: true },
  "mallory-token": { id: "mallory", canAccessPersonas: false },
};

/** Recognises the fixed bearer tokens above, as an app's session lookup would. */
export function authenticate(request: Request): TestUser | null {
  const match = /^Bearer (\S+)$/.exec(request.headers.get("Authorization") ?? "");
  return (match && USERS[match[1]!]) || null;
}

export const authorize = (user: TestUser) => user.canAccessPersonas;

export function asUser(name: "alice" | "bob" | "mallory", body: unknown = { personaType: "support" }): RequestInit {
  return {
    method: "POST",
    headers: { Authorization: `Bearer ${name}-token`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
}
