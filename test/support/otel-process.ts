import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { signUserToken } from "../../server/auth.ts";
import { recordLogLine } from "./traffic.ts";

/**
 * For the end-to-end suites: an OTLP/HTTP receiver on loopback that keeps every body it is sent
 * (and reads those sent as JSON), and the standalone server as a child process, its output kept for the leak checks.
 */

export interface OtlpReceiver {
  endpoint: string;
  /** Every body received, as sent, in order. */
  bodies: { path: string; contentType: string; text: string }[];
  traces(): OtlpSpan[];
  /** The newest value of every metric point: exports are cumulative. */
  latestMetrics(): Map<string, OtlpMetric>;
  close(): Promise<void>;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status?: { code?: number };
  scope: { name: string; version?: string };
  resource: Record<string, unknown>;
}

export interface OtlpPoint {
  attributes: Record<string, unknown>;
  value?: number;
  count?: number;
  sum?: number;
}

export interface OtlpMetric {
  name: string;
  unit?: string;
  kind: "sum" | "histogram" | "gauge";
  points: OtlpPoint[];
}

interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** OTLP/JSON attribute values are tagged (`stringValue`, `intValue` as text or number, ...). */
function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    if ("stringValue" in value) result[key] = value.stringValue;
    else if ("intValue" in value) result[key] = Number(value.intValue);
    else if ("doubleValue" in value) result[key] = Number(value.doubleValue);
    else if ("boolValue" in value) result[key] = value.boolValue;
    else result[key] = value;
  }
  return result;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: OtlpReceiver["bodies"] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      bodies.push({ path: request.url ?? "", contentType: request.headers["content-type"] ?? "", text });
      // Exported telemetry joins the run-wide leak check, as a log line would.
      recordLogLine("otlp-receiver", text);
      response.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const parsed = (path: string) => bodies.filter((body) => body.path === path && body.contentType.startsWith("application/json")).map((body) => JSON.parse(body.text) as Record<string, any>);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bodies,
    traces: () =>
      parsed("/v1/traces").flatMap((body) =>
        (body.resourceSpans ?? []).flatMap((resourceSpans: any) =>
          (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans: any) =>
            (scopeSpans.spans ?? []).map(
              (span: any): OtlpSpan => ({
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId || undefined,
                name: span.name,
                kind: span.kind,
                attributes: attributesOf(span.attributes),
                events: (span.events ?? []).map((event: any) => ({ name: event.name, attributes: attributesOf(event.attributes) })),
                status: span.status,
                scope: scopeSpans.scope,
                resource: attributesOf(resourceSpans.resource?.attributes),
              }),
            ),
          ),
        ),
      ),
    latestMetrics: () => {
      const latest = new Map<string, OtlpMetric>();
      for (const body of parsed("/v1/metrics")) {
        for (const resourceMetrics of body.resourceMetrics ?? []) {
          for (const scopeMetrics of resourceMetrics.scopeMetrics ?? []) {
            for (const metric of scopeMetrics.metrics ?? []) {
              const kind = metric.histogram ? "histogram" : metric.sum ? "sum" : "gauge";
              const points = (metric.histogram ?? metric.sum ?? metric.gauge)?.dataPoints ?? [];
              latest.set(metric.name, {
                name: metric.name,
                unit: metric.unit,
                kind,
                points: points.map((point: any) => ({
                  attributes: attributesOf(point.attributes),
                  value: point.asInt !== undefined ? Number(point.asInt) : point.asDouble !== undefined ? Number(point.asDouble) : undefined,
                  count: point.count !== undefined ? Number(point.count) : undefined,
                  sum: point.sum !== undefined ? Number(point.sum) : undefined,
                })),
              });
            }
          }
        }
      }
      return latest;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The sum over a metric's points whose attributes include `wanted`. */
export function pointTotal(metric: OtlpMetric | undefined, wanted: Record<string, unknown> = {}, field: "value" | "count" | "sum" = "value"): number {
  if (!metric) return 0;
  return metric.points.filter((point) => Object.entries(wanted).every(([key, value]) => point.attributes[key] === value)).reduce((total, point) => total + (point[field] ?? 0), 0);
}

export interface ServerProcess {
  url: string;
  /** stdout and stderr together, as written so far. */
  output(): string;
  /** Stops the server with SIGTERM, which exports what is pending first. */
  stop(): Promise<void>;
}

export const JWT_SECRET = "tollgate-e2e-secret-0123456789abcdef";

/** A bearer token for the spawned server, as the app's login would issue. */
export function userToken(userId: string): Promise<string> {
  return signUserToken(new TextEncoder().encode(JWT_SECRET), userId);
}

/** Runs `npx tsx server/main.ts` on an ephemeral port with `env` added to a clean environment. */
export async function spawnServer(env: Record<string, string>, command: string[] = ["npx", "tsx", "server/main.ts"]): Promise<ServerProcess> {
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: "0", TOLLGATE_JWT_SECRET: JWT_SECRET, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: npx runs tsx, which runs node, and all three must get the signal.
    detached: true,
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output += text;
    recordLogLine("standalone-server", text);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearInterval(timer);
        resolve(match[1]!.replace("localhost", "127.0.0.1"));
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`the server exited early:\n${output}`));
      }
    }, 50);
  });

  return {
    url,
    output: () => output,
    stop: async () => {
      signalGroup(child.pid!, "SIGTERM");
      // Done when the last of the group is gone, the server's final export included.
      while (signalGroup(child.pid!, 0)) await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
}

/** Signals a process group; false once the group no longer exists. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
