import type { Context, MiddlewareHandler } from "hono";
import { createTokenHandler, type TokenHandler, type TokenHandlerOptions, type User } from "../src/index.ts";

/**
 * tollgate's routes as Hono middleware. Hono apps sign users in with their own middleware and
 * keep the result in the context, so the user comes from there instead of from `authenticate`:
 *
 *   app.use("/api/*", yourAuth); // sets c.set("user", { id, ... })
 *   app.all("/api/session-token/*", sessionTokens({ provider, personas })); // also /usage
 *
 * The routes read the request body themselves: mount them where no earlier middleware has read it.
 */

export interface HonoTokenOptions<U extends User> extends Omit<TokenHandlerOptions<U>, "authenticate"> {
  /** The signed-in user, or null for a 401. Default: `c.get("user")`. */
  user?: (c: Context) => U | null | undefined | Promise<U | null | undefined>;
}

export interface SessionTokensMiddleware extends MiddlewareHandler {
  /** The issuer behind the routes, to share with server actions or other handlers. */
  readonly issuer: TokenHandler["issuer"];
}

export function sessionTokens<U extends User>(options: HonoTokenOptions<U>): SessionTokensMiddleware {
  const userOf = options.user ?? ((c: Context) => c.get("user") as U | undefined);
  // The handler reads the user back by the request it is given; each entry lives as long as it.
  const users = new WeakMap<Request, U | null | undefined>();
  const handler = createTokenHandler<U>({ ...options, authenticate: (request) => users.get(request) });

  const middleware: MiddlewareHandler = async (c) => {
    users.set(c.req.raw, await userOf(c));
    return handler(c.req.raw);
  };
  return Object.assign(middleware, { issuer: handler.issuer });
}
