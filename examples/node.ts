import { createServer } from "node:http";
import { toNodeHandler } from "../adapters/node.ts"; // in your app: "tollgate/node"
import { createTokenHandler } from "../src/index.ts";
import { listening, port, tokenOptions } from "./setup.ts";

// npx tsx examples/node.ts — the same handler, mounted in node:http (or Express: app.use(path, tokens)).
const tokens = toNodeHandler(createTokenHandler(tokenOptions));

createServer((request, response) => {
  if (request.url?.startsWith("/api/session-token")) return void tokens(request, response);
  response.writeHead(404).end("Not found");
}).listen(port, () => listening("node:http"));
