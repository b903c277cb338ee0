import type { Context, Env, Hono, MiddlewareHandler } from "hono";
import { createTokenHandler, type TokenHandler, type TokenHandlerOptions, type User } from "../src/index.ts";

/**
 * tollgate's routes as Hono middleware. Hono apps sign users in with their own middleware and
 * keep the result in the context, so the user comes from there instead of from `authenticate`:
 *
 *   const app = new Hono<{ Variables: { user: AppUser } }>();
 *   app.use("/api/*", yourAuth); // c.set("user", { id, ... })
 *   app.all("/api/session-token/*", sessionTokens({ provider, personas, authorize: (user) => user.plan === "pro" })); // also /usage
 *
 * or, with the user's type inferred from the app's `Variables["user"]`:
 *
 *   mountSessionTokens(app, { provider, personas, authorize: (user) => user.plan === "pro" });
 *
 * `sessionTokens<AppEnv>(...)` gives the same typing where the app is not at hand.
 * The routes read the request body themselves: mount them where no earlier middleware has read it.
 */

/** The user type an app's Hono `Env` keeps under `Variables.user`; `User` when it keeps none. */
export type UserOf<E extends Env> = E extends { Variables: { user?: infer V } } ? (NonNullable<V> extends User ? NonNullable<V> : User) : User;

export interface HonoTokenOptions<U extends User> extends Omit<TokenHandlerOptions<U>, "authenticate"> {
  /** The signed-in user, or null for a 401. Default: `c.get("user")`. */
  user?: (c: Context) => U | null | undefined | Promise<U | null | undefined>;
}

export interface SessionTokensMiddleware<E extends Env = Env> extends MiddlewareHandler<E> {
  /** The issuer behind the routes, to share with server actions or other handlers. */
  readonly issuer: TokenHandler["issuer"];
}

export function sessionTokens<E extends Env = Env>(options: HonoTokenOptions<UserOf<E>>): SessionTokensMiddleware<E> {
  type U = UserOf<E>;
  const { user, ...handlerOptions } = options;
  const userOf = user ?? ((c: Context) => c.get("user") as U | undefined);
  // The handler reads the user back by the request it is given; each entry lives as long as it.
  const users = new WeakMap<Request, U | null | undefined>();
  const handler = createTokenHandler<U>({ ...handlerOptions, authenticate: (request) => users.get(request) });

  const middleware: MiddlewareHandler<E> = async (c) => {
    users.set(c.req.raw, await userOf(c));
    return handler(c.req.raw);
  };
  return Object.assign(middleware, { issuer: handler.issuer });
}

/**
 * Mounts both routes on `app` (`path`, default `/api/session-token`, and `path/usage`), the user's
 * type taken from the app's `Variables["user"]`, so that `authorize` and `user` see the app's own.
 */
export function mountSessionTokens<E extends Env>(app: Hono<E, any, any>, options: HonoTokenOptions<UserOf<E>> & { path?: string }): SessionTokensMiddleware<E> {
  const { path = "/api/session-token", ...rest } = options;
  const middleware = sessionTokens<E>(rest);
  app.all(path, middleware);
  app.all(`${path}/usage`, middleware);
  return middleware;
}
