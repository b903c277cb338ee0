import { telemetryPlan } from "./otel-plan.ts";

/**
 * Starts the standalone server's telemetry from the environment: off unless asked for, the
 * OpenTelemetry SDK when asked (`otel-plan.ts` says what asks for what), or nothing of ours on Deno
 * with `OTEL_DENO=true`, where the runtime exports by itself through the same API (and Prometheus
 * is not available).
 */

export interface ServerTelemetry {
  /** `sdk` when this module started one, `deno` when Deno's own is in charge, else `off`. */
  mode: "off" | "sdk" | "deno";
  /** What each signal goes to, for the start-up banner. */
  summary: string;
  /** The Prometheus text exposition of the current metrics, when Prometheus was asked for. */
  prometheusText: (() => Promise<string>) | undefined;
  /** Where Prometheus is served: undefined for `/metrics` on the server's own port. */
  metricsPort: number | undefined;
  /** The address of that port: undefined for `HOST`. */
  metricsHost?: string;
  /** The variable that set that port, for a message when it is taken. */
  metricsPortVariable?: string;
  /** Exports what is pending and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

/** A collector that is gone must not hold the process at exit for longer than this. */
const SHUTDOWN_GRACE_MS = 5_000;

const OFF: ServerTelemetry = { mode: "off", summary: "off", prometheusText: undefined, metricsPort: undefined, shutdown: async () => {} };

export async function startTelemetry(env: Record<string, string | undefined>): Promise<ServerTelemetry> {
  const plan = telemetryPlan(env);
  if (plan === "off") return OFF;
  if (plan === "deno") return { ...OFF, mode: "deno", summary: "exported by Deno (OTEL_DENO=true)" };

  // Loaded only when asked for, so that a server without telemetry never pays for the SDK.
  const { startSdk } = await import("./otel-sdk.ts");
  const sdk = startSdk(plan);
  const signals = [
    `traces: ${plan.traces ? env.OTEL_TRACES_EXPORTER?.trim() || "otlp" : "off"}`,
    `metrics: ${[...plan.metricExporters, ...(plan.prometheus ? ["prometheus"] : [])].join(", ") || "off"}`,
  ];
  if (plan.logs) signals.push(`logs: ${env.OTEL_LOGS_EXPORTER?.trim() || "otlp"}`);
  return {
    mode: "sdk",
    summary: signals.join("; "),
    prometheusText: sdk.prometheusText,
    metricsPort: plan.prometheus?.port,
    metricsHost: plan.prometheus?.host,
    metricsPortVariable: plan.prometheus?.variable,
    shutdown: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)));
      await Promise.race([sdk.shutdown(), grace]);
      clearTimeout(timer);
    },
  };
}
