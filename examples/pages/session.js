// The browser half of every example: a token from the example's server through tollgate/client,
// an Anam session with it through tollgate/client/anam, and each step shown on the page.
import { createTollgateClient } from "tollgate/client";
import { startAnamSession } from "tollgate/client/anam";

const server = new URLSearchParams(location.search).get("server") ?? "http://localhost:8787";
const log = (text) => document.getElementById("log").append(`${new Date().toLocaleTimeString()} ${text}\n`);

const tollgate = createTollgateClient({
  url: `${server}/api/session-token`,
  // The examples' stand-in sign-in (examples/setup.ts); your app sends its own user's credential.
  headers: () => ({ Authorization: "Bearer demo-user-token" }),
  onRetry: ({ delayMs, status }) => log(`${status}: trying again in ${Math.ceil(delayMs / 1000)} s`),
});
tollgate.prefetch("support");

let session;
document.getElementById("start").onclick = async () => {
  try {
    session = await startAnamSession(tollgate, "support", {
      videoElementId: "avatar",
      onClient: (client, token) => log(`token for ${token.profile}, expires ${token.expiresAt}`),
    });
    log(`session ${await session.ready} started; reported`);
  } catch (error) {
    log(`could not start: ${error.code ?? ""} ${error.message}`);
  }
};
document.getElementById("stop").onclick = async () => {
  await session?.stop();
  log("session ended; reported with its duration");
};
