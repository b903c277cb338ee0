import { createServer } from "node:http";
import { toNodeHandler } from "../adapters/node.ts"; // in your app: "tollgate/node"
import { createTokenHandler } from "../src/index.ts";
import { listening, port, tokenOptions } from "./setup.ts";

// npx tsx examples/node.ts — the same handler, mounted in node:http (or Express: app.use(path, tokens)).
const tokens = toNodeHandler(createTokenHandler(tokenOptions));

createServer((request, response) => {
  const path = request.url?.split("?")[0];
  if (path === "/api/session-token" || path === "/api/session-token/usage") return void tokens(request, response);
  response.writeHead(404).end("Not found");
}).listen(port, () => listening("node:http"));
