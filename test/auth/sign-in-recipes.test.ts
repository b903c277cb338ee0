import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SignJWT } from "jose";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { jwtUser, type JwtUserOptions } from "../../src/auth/index.ts";

// The recipes in docs/sign-in.md run as they are copied, with the environment an app has: the
// compile test shows they type-check, this that they work with a variable left unset.

const SECRET = "the-current-supabase-secret-0123456789";
const PREVIOUS = "the-previous-supabase-secret-012345678";

/** The TypeScript block of docs/sign-in.md that mentions `marker`. */
async function recipe(marker: string): Promise<string> {
  const text = await readFile(join(import.meta.dirname, "..", "..", "docs", "sign-in.md"), "utf8");
  const block = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!).find((code) => code.includes(marker));
  if (!block) throw new Error(`no recipe mentions ${marker}`);
  return block;
}

/** Runs a recipe with `env` as process.env; the authenticator its jwtUser call made. */
function run(code: string, env: Record<string, string>): (request: Request) => Promise<unknown> {
  const made: Array<ReturnType<typeof jwtUser>> = [];
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  new Function("jwtUser", "process", js)((options: JwtUserOptions) => {
    const authenticate = jwtUser(options);
    made.push(authenticate);
    return authenticate;
  }, { env });
  expect(made).toHaveLength(1);
  return made[0]!;
}

const supabaseUser = (secret: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("supabase-user")
    .setIssuer("https://abcdefghijklmnop.supabase.co/auth/v1")
    .setAudience("authenticated")
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(secret));
const bearer = (jwt: string) => new Request("http://app.test/api/session-token", { headers: { Authorization: `Bearer ${jwt}` } });

describe("the Supabase legacy-secret recipe", () => {
  it("runs with no previous secret set, and takes the previous one beside the new during a rotation", async () => {
    const code = await recipe("SUPABASE_JWT_SECRET");
    const alone = run(code, { SUPABASE_JWT_SECRET: SECRET });
    expect(await alone(bearer(await supabaseUser(SECRET)))).toMatchObject({ id: "supabase-user" });
    expect(await alone(bearer(await supabaseUser(PREVIOUS)))).toBeNull();

    const rotating = run(code, { SUPABASE_JWT_SECRET: SECRET, SUPABASE_JWT_SECRET_PREVIOUS: PREVIOUS });
    expect(await rotating(bearer(await supabaseUser(PREVIOUS)))).toMatchObject({ id: "supabase-user" });
  });
});
