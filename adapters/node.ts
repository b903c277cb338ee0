import type { IncomingMessage, ServerResponse } from "node:http";
import { toNodeHandler as srvxNodeHandler } from "srvx/node";

/**
 * Mounts a fetch handler (such as `createTokenHandler`'s) in a Node server that is not fetch-based:
 * `node:http`, Express, Connect, Polka and the like.
 *
 *   import { toNodeHandler } from "tollgate/node";
 *   http.createServer(toNodeHandler(handler));
 *   app.use("/api/session-token", toNodeHandler(handler)); // Express
 *
 * The request conversion is srvx's: the body is streamed (so the size cap holds however the body
 * arrives) and the request's `signal` aborts when the client goes away.
 */

/** Node's request as Express and friends hand it on, perhaps with a body they already parsed. */
export type NodeRequest = IncomingMessage & { body?: unknown; rawBody?: unknown };

export type NodeHandler = (request: NodeRequest, response: ServerResponse, next?: (error?: unknown) => void) => Promise<void>;

export function toNodeHandler(handler: (request: Request) => Response | Promise<Response>): NodeHandler {
  // srvx types its result as HTTP/1 or HTTP/2; it is made from a plain handler, so HTTP/1 it is.
  const nodeHandler = srvxNodeHandler(handler) as (request: IncomingMessage, response: ServerResponse) => Promise<void>;
  return async (request, response, next) => {
    keepParsedBody(request);
    try {
      await nodeHandler(request, response);
    } catch (error) {
      if (next) next(error);
      else if (!response.headersSent) response.writeHead(500).end();
      else response.destroy(error instanceof Error ? error : undefined);
    }
  };
}

/**
 * A body parser mounted before us (`express.json()`, say) has read the stream already and left the
 * result on `request.body`. srvx reads a `rawBody` buffer in that case, so hand it the body again,
 * as the bytes a client would have sent.
 */
function keepParsedBody(request: NodeRequest): void {
  if (!request.readableEnded || request.body === undefined || Buffer.isBuffer(request.rawBody)) return;
  const { body } = request;
  if (Buffer.isBuffer(body)) request.rawBody = body;
  else if (typeof body === "string") request.rawBody = Buffer.from(body);
  else request.rawBody = Buffer.from(JSON.stringify(body));
}
