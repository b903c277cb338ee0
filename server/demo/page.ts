import { AnamEvent } from "@anam-ai/js-sdk";
import { createTollgateClient, type TollgateClient } from "../../src/client/index.ts";
import { startAnamSession, type AnamSession } from "../../src/client/anam.ts";
import type { DemoPageConfig } from "./page-html.ts";

/**
 * The demo page's script, bundled for the browser. The token server is this page's own origin
 * unless `?server=<origin>` names another (that server must allow this origin: TOLLGATE_CORS_ORIGINS);
 * the user's bearer token is the demo user's, or `#user=<token>` where users sign in.
 */

const config = JSON.parse(document.getElementById("demo-config")!.textContent!) as DemoPageConfig;
const params = new URLSearchParams(location.search);
const server = params.get("server") ?? location.origin;
const userToken = new URLSearchParams(location.hash.slice(1)).get("user") ?? config.userToken;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const profileSelect = $<HTMLSelectElement>("profile");
const startButton = $<HTMLButtonElement>("start");
const stopButton = $<HTMLButtonElement>("stop");
const status = $<HTMLParagraphElement>("status");
const list = $<HTMLOListElement>("events");

/** What the page did, for whoever drives it (the browser tests read it). */
const state = {
  status: "idle" as "idle" | "starting" | "live" | "ended" | "error",
  token: undefined as string | undefined,
  sessionId: undefined as string | undefined,
  error: undefined as { code?: string; message: string } | undefined,
  retries: [] as Array<{ attempt: number; delayMs: number; status: number }>,
  events: [] as Array<Record<string, unknown>>,
};

const tollgate: TollgateClient = createTollgateClient({
  url: new URL(config.tokenPath, server),
  headers: (): HeadersInit => (userToken ? { Authorization: `Bearer ${userToken}` } : {}),
  onRetry: (retry) => {
    state.retries.push(retry);
    show(`The token server is busy; trying again in ${Math.ceil(retry.delayMs / 1000)} s`);
  },
});

let session: AnamSession | undefined;

function show(text: string) {
  status.textContent = text;
}

async function start() {
  startButton.disabled = true;
  state.status = "starting";
  state.error = undefined;
  show("Getting a token...");
  try {
    session = await startAnamSession(tollgate, profileSelect.value, {
      videoElementId: "avatar",
      client: { api: { baseUrl: new URL(config.anamPath, server).href }, disableInputAudio: true, metrics: { disableClientMetrics: true } },
      onClient: (client, token) => {
        state.token = token.token;
        client.addListener(AnamEvent.CONNECTION_CLOSED, () => {
          state.status = "ended";
          stopButton.disabled = true;
          startButton.disabled = false;
          show("Session ended");
          tollgate.prefetch(profileSelect.value);
        });
      },
    });
    show("Connecting...");
    state.sessionId = await session.ready;
    state.status = "live";
    stopButton.disabled = false;
    show(`Session ${state.sessionId} is live`);
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    state.status = "error";
    state.error = { code, message: message ?? String(error) };
    startButton.disabled = false;
    show(`Could not start: ${message ?? error}`);
  }
}

async function stop() {
  stopButton.disabled = true;
  await session?.stop();
}

for (const profile of config.profiles) profileSelect.add(new Option(profile, profile));
profileSelect.addEventListener("change", () => tollgate.prefetch(profileSelect.value));
startButton.addEventListener("click", () => void start());
stopButton.addEventListener("click", () => void stop());

const source = new EventSource("events");
source.onmessage = (message) => {
  const event = JSON.parse(message.data) as Record<string, unknown>;
  state.events.push(event);
  const item = document.createElement("li");
  const details = ["profile", "token", "durationMs", "reason", "errorType", "status"].filter((key) => event[key] !== undefined).map((key) => `${key}=${event[key]}`);
  item.textContent = `${new Date(event.time as number).toLocaleTimeString()} ${event.name} ${details.join(" ")}`;
  list.append(item);
  list.scrollTop = list.scrollHeight;
};
source.onopen = () => {
  if (document.body.dataset.ready) return;
  document.body.dataset.ready = "true";
  // A token ready before the click; asked for once the list listens, so that its whole life shows.
  if (config.profiles[0] && userToken) tollgate.prefetch(config.profiles[0]);
};

Object.assign(globalThis, { tollgateDemo: { state, tollgate, start, stop } });
