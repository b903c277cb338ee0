import type { FetchLike } from "./http.ts";

/**
 * What the providers' emulators share. An emulator is a fetch handler that behaves as the real API
 * does by its sources (request checks, answer shape, expiry, single use, error bodies), for tests,
 * examples and the zero-config server, since no real API is reachable offline. Each one can be
 * slowed down and made to fail on purpose, the same way: `latencyMs`, and `inject(...faults)`.
 */

/** What the next mint request gets instead of a token. Fields left out take plain defaults. */
export interface Fault {
  /** Default 500. */
  status?: number;
  /** Sent as the `Retry-After` header. */
  retryAfter?: number | string;
  /** The raw body. Default the provider's own error body for the status. */
  body?: string;
  /** Wait this long first (abandoned when the caller aborts). */
  delayMs?: number;
}

export interface EmulatorStats {
  /** Requests to the mint endpoint, answered or not. */
  mintRequests: number;
  tokensIssued: number;
  /** Tokens redeemed where the emulator also stands in for the session start (Anam, LiveAvatar). */
  sessionsStarted: number;
}

export interface EmulatorOptions {
  /** The API key it accepts. */
  apiKey: string;
  /** Added to every mint, to look like a real network. Default 0; can be changed later. */
  latencyMs?: number;
}

export interface Emulator {
  fetch(request: Request): Promise<Response>;
  /** Queues faults; each one answers one mint request, in order, before tokens flow again. */
  inject(...faults: Fault[]): void;
  /** Drops the faults still queued. */
  clearFaults(): void;
  /** Added to every mint from now on. */
  latencyMs: number;
  readonly stats: Readonly<EmulatorStats>;
}

/** The part every emulator has: stats, latency and the fault queue, around its own mint. */
export interface EmulatorKit {
  readonly stats: EmulatorStats;
  /**
   * Counts a mint request, waits out the latency, and answers the next queued fault if there is
   * one (with `errorBody` for the fault's status when the fault gives no body).
   */
  beforeMint(request: Request, errorBody: (status: number) => unknown): Promise<Response | undefined>;
  /** The emulator's public face, around its fetch handler; a handler that throws answers 500. */
  emulator(handle: (request: Request) => Promise<Response>, errorBody: (status: number) => unknown): Emulator;
}

export function emulatorKit(options: EmulatorOptions): EmulatorKit {
  const faults: Fault[] = [];
  const stats: EmulatorStats = { mintRequests: 0, tokensIssued: 0, sessionsStarted: 0 };
  let latencyMs = options.latencyMs ?? 0;

  async function beforeMint(request: Request, errorBody: (status: number) => unknown): Promise<Response | undefined> {
    stats.mintRequests++;
    await pause(latencyMs, request.signal);
    const fault = faults.shift();
    if (!fault) return undefined;
    await pause(fault.delayMs ?? 0, request.signal);
    const status = fault.status ?? 500;
    const headers = new Headers({ "Content-Type": "application/json" });
    if (fault.retryAfter !== undefined) headers.set("Retry-After", String(fault.retryAfter));
    return new Response(fault.body ?? JSON.stringify(errorBody(status)), { status, headers });
  }

  return {
    stats,
    beforeMint,
    emulator: (handle, errorBody) => ({
      fetch: (request) => handle(request).catch(() => Response.json(errorBody(500), { status: 500 })),
      inject: (...more) => void faults.push(...more),
      clearFaults: () => void faults.splice(0),
      get latencyMs() {
        return latencyMs;
      },
      set latencyMs(ms: number) {
        latencyMs = ms;
      },
      stats,
    }),
  };
}

/** The credential in `Authorization: <scheme> <credential>`, for the given scheme (case-insensitive). */
export function authorization(request: Request, scheme: string): string | undefined {
  const match = /^(\S+)\s+(\S+)$/.exec(request.headers.get("Authorization") ?? "");
  return match && match[1]!.toLowerCase() === scheme.toLowerCase() ? match[2] : undefined;
}

/** The request's JSON body, or undefined when it has none or it is not JSON. */
export async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    return undefined;
  }
}

/** Waits `ms`, or less if the caller goes away: a hung upstream must not outlive its client. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * A fetch that hands each request to `emulator` in this process, without a socket: what a
 * provider's `emulated()` uses, so that its key never leaves the process.
 */
export function inProcessFetch(emulator: Pick<Emulator, "fetch">): FetchLike {
  return (input, init) => emulator.fetch(new Request(input, init));
}

/** The base URL an in-process emulator is reached at: it resolves nowhere, so nothing real is ever called. */
export function emulatorBaseUrl(name: string): string {
  return `http://${name}-emulator.invalid/`;
}

/**
 * A provider on its emulator in this process: no key, no network; what every HTTP provider's
 * `emulated()` is. The emulator is on the provider as `emulator`, for its stats and faults.
 */
export function onEmulator<P, E extends Emulator, EmulatorOptionsOf extends EmulatorOptions, ProviderOptions extends { apiKey: string; baseUrl?: string | URL; fetch?: FetchLike }>(
  name: string,
  provider: (options: ProviderOptions) => P,
  createEmulator: (options: EmulatorOptionsOf) => E,
  options: Partial<EmulatorOptionsOf> & Omit<ProviderOptions, "apiKey" | "baseUrl" | "fetch">,
): P & { emulator: E } {
  const apiKey = options.apiKey ?? `emulator-${crypto.randomUUID()}`;
  const emulator = createEmulator({ ...options, apiKey } as unknown as EmulatorOptionsOf);
  const made = provider({ ...options, apiKey, baseUrl: emulatorBaseUrl(name), fetch: inProcessFetch(emulator) } as unknown as ProviderOptions);
  return { ...made, emulator };
}
