import type { ServerApp } from "./app.ts";
import { TOKEN_PATH } from "./app.ts";
import { worstCaseLines } from "./cost.ts";
import type { ServerConfig } from "./config.ts";
import type { ServerTelemetry } from "./otel.ts";
import { PROVIDERS } from "./providers.ts";
import type { StoreCheck } from "./readiness.ts";

/**
 * What the server prints when it starts: where it listens and the configuration in force, each
 * line from what was read and found rather than from the defaults, so that an operator can check
 * a deployment from its first lines. Never a secret: the store's URL is shown without credentials.
 */
export interface BannerFacts {
  origin: string;
  config: ServerConfig;
  app: Pick<ServerApp, "profiles" | "demoUserToken" | "worstCase" | "demoPath">;
  telemetry: Pick<ServerTelemetry, "mode" | "summary" | "prometheusText" | "metricsPort">;
  store: StoreCheck;
}

export function banner({ origin, config, app, telemetry, store }: BannerFacts): string[] {
  const lines = [`tollgate: listening on ${origin}${config.host ? ` (HOST ${config.host})` : " (every interface; set HOST to narrow it)"}`];

  if (config.store.kind === "memory") lines.push("tollgate: store: memory, this process only (set TOLLGATE_STORE to a redis:// URL to share it)");
  else {
    const found = store.ready ? `answered in ${store.ms} ms` : `did not answer (${store.reason}); GET /readyz answers 503 until it does`;
    lines.push(`tollgate: store: redis at ${withoutCredentials(config.store.url)}, prefix "${config.store.prefix}": ${found}`);
  }

  const limits = [`${config.rateLimit.limit} tokens per user per ${window(config.rateLimit.windowMs)}`];
  if (config.maxSessionSeconds !== undefined) limits.push(`a session ceiling of ${config.maxSessionSeconds} s`);
  lines.push(`tollgate: limits: ${limits.join("; ")}`);
  for (const line of worstCaseLines(app.worstCase)) lines.push(`tollgate: ${line}`);

  lines.push(`tollgate: sign-in: ${signIn(config, app.demoUserToken !== undefined)}`);
  lines.push("tollgate: profiles:");
  for (const profile of app.profiles) lines.push(`  ${profile.name} -> ${profile.provider}${profile.emulated ? " (emulator)" : ""}`);
  const emulated = [...new Set(app.profiles.filter((profile) => profile.emulated).map((profile) => profile.provider))];
  if (emulated.length > 0) {
    lines.push(
      `tollgate: no API key for ${emulated.join(", ")}, so those tokens come from built-in emulators; they do not work with the real APIs.`,
      // The emulators run in this process, and a fetch handler takes no WebSocket: there is no stream or room to name.
      "tollgate: on the emulators, a URL handed out beside a token (a websocketUrl, a serverUrl) is a placeholder under .invalid, where no stream or room answers.",
      `tollgate: to use a real API, set its key: ${emulated.map((name) => PROVIDERS[name]?.fromEnv.variables[0] ?? name).join(", ")}.`,
    );
  }

  lines.push(`tollgate: CORS: ${config.corsOrigins.length > 0 ? `allowed for ${config.corsOrigins.join(", ")}` : "no origin allowed (set TOLLGATE_CORS_ORIGINS for browsers on other origins)"}`);
  const metricsAt = telemetry.prometheusText
    ? telemetry.metricsPort !== undefined
      ? `Prometheus on port ${telemetry.metricsPort} at /metrics`
      : `Prometheus at ${origin}/metrics`
    : "no Prometheus endpoint (TOLLGATE_METRICS=prometheus serves one)";
  lines.push(`tollgate: telemetry: ${telemetry.mode === "off" ? "off (no OTEL_* variable asks for it)" : telemetry.summary}; ${metricsAt}`);

  if (app.demoPath) lines.push(`tollgate: demo page (an Anam session through tollgate/client) at ${origin}${app.demoPath}`);
  if (app.demoUserToken) {
    const first = app.profiles[0]!.name;
    lines.push(
      "tollgate: a demo user token, valid for 24 hours. Try:",
      `  curl -s -X POST ${origin}${TOKEN_PATH} -H "Authorization: Bearer ${app.demoUserToken}" -H "Content-Type: application/json" -d '{"profile":"${first}"}'`,
    );
  }
  return lines;
}

function signIn(config: ServerConfig, demo: boolean): string {
  if (demo) return "a random secret for this start (emulators only), whose demo token is below";
  const ways = [];
  if (config.auth.jwksUrl) ways.push(`JWKS at ${withoutCredentials(config.auth.jwksUrl)}`);
  if (config.auth.jwtSecrets.length > 0) ways.push(config.auth.jwtSecrets.length > 1 ? "HS256, current and previous secret" : "HS256 secret");
  const checks = [config.auth.issuer && `iss ${config.auth.issuer}`, config.auth.audience && `aud ${config.auth.audience}`].filter(Boolean);
  const claim = config.auth.claim === null ? "every signed-in user may mint" : `claim ${config.auth.claim} must be true to mint`;
  return [ways.join(" or "), ...checks, claim].join("; ");
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(an unreadable URL)";
  }
}

function window(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms % size === 0) return ms === size ? { d: "day", h: "hour", m: "minute", s: "second" }[unit] : `${ms / size}${unit}`;
  }
  return `${ms} ms`;
}
