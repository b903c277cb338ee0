/**
 * tollgate/client: the browser half of a token's life. It asks the token server for a token (with
 * back-off on 429 and 503), hands it to the provider's SDK, and reports what became of it:
 * `started`, `ended` with the session's duration, or `failed` when the provider refused the token.
 * Web-standard APIs only, no dependencies. The SDK hooks (`tollgate/client/anam`, ...) build on
 * `runSession` below.
 */

/** The server's answer to `POST .../session-token`: `{ token, expiresAt, provider, profile, ...extra }`. */
export interface TokenAnswer {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  provider: string;
  profile: string;
  /** What the provider's client needs besides the token (LiveKit: `serverUrl`; Anam: `sessionToken`). */
  [extra: string]: unknown;
}

export interface TollgateClientOptions {
  /** The token route, `https://tokens.example.com/api/session-token`; the usage route is `<url>/usage`. */
  url: string | URL;
  /**
   * Headers for every request, typically `{ Authorization: "Bearer <the user's token>" }`; called
   * before each request, so that a refreshed sign-in is picked up. May be async.
   */
  headers?: () => HeadersInit | Promise<HeadersInit>;
  /** `include` to send cookies to a token server on another origin (it must allow credentials). Default `same-origin`. */
  credentials?: RequestCredentials;
  /** Attempts for one token, counting the first: a whole number, at least 1. Default 4. */
  maxAttempts?: number;
  /** The longest wait before another attempt; a `Retry-After` beyond it fails at once. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Told of each wait before another attempt at a token, for a "busy, retrying" message. */
  onRetry?: (info: { attempt: number; delayMs: number; status: number }) => void;
  /** Where the tab's `clientId` is kept. Default `sessionStorage`, which is per tab. */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  /** The `fetch` to use. Default the global one. */
  fetch?: typeof fetch;
}

/** The problem `type`s the server answers, by their last part (`urn:tollgate:error:<code>`). */
export type TollgateErrorCode =
  | "unauthenticated"
  | "forbidden"
  | "invalid_request"
  | "unknown_profile"
  | "rate_limited"
  | "session_limit"
  | "token_not_found"
  | "token_not_owned"
  | "upstream_rejected"
  | "upstream_invalid_response"
  | "upstream_unavailable"
  | "upstream_timeout"
  | "store_unavailable"
  /** The token server was not reached. */
  | "network"
  /** The token server answered 200 with something that is not a token. */
  | "invalid_response"
  /** `createTollgateClient` was given an option it cannot use; the message names it. */
  | "invalid_option"
  | (string & {});

const PROBLEM_PREFIX = "urn:tollgate:error:";

/** What the token server refused, typed by the problem `type` it answered; `network` when it was not reached. */
export class TollgateClientError extends Error {
  /** `rate_limited`, `unauthenticated`, ...: the problem type's last part. */
  readonly code: TollgateErrorCode;
  /** The problem `type` as answered, `urn:tollgate:error:<code>`. */
  readonly type: string;
  /** The HTTP status; 0 when the server was not reached. */
  readonly status: number;
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, status: number, detail: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = "TollgateClientError";
    this.code = code;
    this.type = PROBLEM_PREFIX + code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The life of one token's session, as the page reports it. Each report is sent once, whatever calls it how often. */
export interface SessionReporter {
  readonly token: TokenAnswer;
  /** The session is up; `sessionId` is the provider's own id of it. */
  started(sessionId?: string): void;
  /** The session is over; the duration is counted from `started`, and the session id sent again. */
  ended(reason?: string): void;
  /** The provider refused the token when the session started. Resolves once the server has evicted it. */
  failed(reason?: string): Promise<void>;
}

export interface RunSessionOptions {
  /** Whether an error thrown by `start` is the provider refusing the token (then: `failed`, and one retry with a fresh token). */
  isRefusal: (error: unknown) => boolean;
}

/** What a usage report says of a token; `discarded`: it was never used, and never will be. */
export type UsageEvent = "started" | "ended" | "failed" | "discarded";

export interface TollgateClient {
  /** This tab's id, sent with every token request: two tabs never share a single-use token. */
  readonly clientId: string;
  /** A token for `profile`: a prefetched one when it is still fresh, otherwise the server's; calls at the same time share one request. */
  getToken(profile: string): Promise<TokenAnswer>;
  /**
   * Fetches a token ahead of the click and keeps it fresh (replaced as it nears its expiry) until
   * `getToken` takes it. A prefetched token that is replaced, or still unused when the page goes
   * away, is reported `discarded`, so that it holds none of the user's sessions.
   */
  prefetch(profile: string): void;
  /** Reports on `token`'s session, `ended` included when the page goes away. */
  track(token: TokenAnswer): SessionReporter;
  /**
   * Gets a token of its own (never one that another `runSession`'s session still holds), starts a
   * session with it through `start`, and reports the start, and the end when `start`'s session
   * calls `reporter.ended`. When the provider refuses the token, reports `failed` and tries once
   * more with a fresh token.
   */
  runSession<T>(profile: string, start: (token: TokenAnswer, reporter: SessionReporter) => Promise<T>, options: RunSessionOptions): Promise<T>;
  /** One usage report, as sent by `track`; waits out a 429 or 503, or a server not reached, a few times. */
  report(token: string, event: UsageEvent, fields?: { durationMs?: number; sessionId?: string; reason?: string }, keepalive?: boolean): Promise<void>;
}

const CLIENT_ID_KEY = "tollgate.clientId";
const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;
const BASE_RETRY_DELAY_MS = 500;
/** The shortest wait before another attempt, whatever `Retry-After` says: a server that answers 0 is not to be hammered. */
const MIN_RETRY_DELAY_MS = 250;
/** Attempts for one usage report: a lost `started` lets the server hand a used token out again, but a report is not worth a long wait. */
const REPORT_ATTEMPTS = 3;
/**
 * The shortest wait before a prefetched token is replaced. A token that seems to have no life left
 * when it arrives (this page's clock far ahead of the server's, say) is replaced after this, then
 * after twice as long, and so on, at most `MAX_SHORT_REFRESHES` times in a row: never in a loop.
 */
const MIN_REFRESH_MS = 1_000;
const MAX_SHORT_REFRESHES = 5;
/** `setTimeout` fires at once for a delay past 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A token prefetched for a profile: its answer, the answer once it came, and the timer that replaces it. */
interface Prefetched {
  answer: Promise<TokenAnswer>;
  token?: TokenAnswer;
  refresh?: ReturnType<typeof setTimeout>;
}

export function createTollgateClient(options: TollgateClientOptions): TollgateClient {
  checkOptions(options);
  const tokenUrl = String(options.url).replace(/\/+$/, "");
  const usageUrl = `${tokenUrl}/usage`;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const clientId = tabClientId(options.storage === undefined ? sessionStorageOrNull() : options.storage);

  /** Requests in flight, by profile: what concurrent `getToken` calls share. */
  const inFlight = new Map<string, Promise<TokenAnswer>>();
  /** Prefetched tokens, by profile. */
  const prefetched = new Map<string, Prefetched>();
  /** Tokens that a `runSession` took and whose session is not over: no other session may have them. */
  const taken = new Set<string>();
  /** Scopes made for sessions that could not have the tab's token (see `runSession`). */
  let extraScopes = 0;
  /** Sessions that started and have not ended: what `pagehide` reports. */
  const live = new Set<() => void>();
  /** The headers last resolved: `pagehide` cannot wait for an async getter. */
  let lastHeaders: HeadersInit = {};

  async function headers(): Promise<Headers> {
    const own = options.headers ? await options.headers() : {};
    lastHeaders = own;
    const all = new Headers(own);
    all.set("Content-Type", "application/json");
    return all;
  }

  /** In `pagehide` nothing may wait: a sync getter's headers, or else the last ones resolved. */
  function headersNow(): Headers {
    let own: HeadersInit | Promise<HeadersInit> | undefined;
    try {
      own = options.headers?.();
    } catch {
      // A getter that throws now: the last headers resolved still serve.
    }
    if (own && typeof (own as Promise<HeadersInit>).then === "function") {
      // Not waited for; should it reject, that is no one's unhandled rejection.
      (own as Promise<HeadersInit>).then(undefined, () => {});
      own = undefined;
    }
    const sent = new Headers((own as HeadersInit | undefined) ?? lastHeaders);
    sent.set("Content-Type", "application/json");
    return sent;
  }

  async function post(url: string, body: unknown, keepalive = false): Promise<Response> {
    const init: RequestInit = { method: "POST", body: JSON.stringify(body), credentials: options.credentials ?? "same-origin", keepalive };
    // The app's getter failing is the app's error, not the server's absence.
    init.headers = keepalive ? headersNow() : await headers();
    try {
      return await doFetch(url, init);
    } catch (error) {
      throw new TollgateClientError("network", 0, "The token server could not be reached", undefined, { cause: error });
    }
  }

  /**
   * POSTs `body` until it is answered 2xx, waiting out 429 and 503 (and, for usage reports, a
   * server not reached) with back-off, `Retry-After` honoured up to `maxRetryDelayMs`.
   */
  async function send(url: string, body: unknown, attempts: number, retryUnreached: boolean, onRetry?: TollgateClientOptions["onRetry"]): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let failure: TollgateClientError;
      try {
        const response = await post(url, body);
        if (response.ok) return response;
        failure = await problemOf(response);
      } catch (error) {
        // `post` throws a TollgateClientError only when the server was not reached; anything else is the app's.
        if (!retryUnreached || !(error instanceof TollgateClientError)) throw error;
        failure = error;
      }
      if (failure.status !== 0 && failure.status !== 429 && failure.status !== 503) throw failure;
      const delayMs = Math.max(MIN_RETRY_DELAY_MS, failure.retryAfterMs ?? backoffMs(attempt));
      // A wait past the cap is not worth making: the caller hears why at once.
      if (attempt >= attempts || delayMs > maxRetryDelayMs) throw failure;
      onRetry?.({ attempt, delayMs, status: failure.status });
      await sleep(delayMs);
    }
  }

  async function requestToken(profile: string, scope = clientId): Promise<TokenAnswer> {
    return tokenOf(await send(tokenUrl, { profile, clientId: scope }, maxAttempts, false, options.onRetry));
  }

  function getToken(profile: string): Promise<TokenAnswer> {
    const sharing = inFlight.get(profile);
    if (sharing) return sharing;
    const kept = prefetched.get(profile);
    prefetched.delete(profile);
    if (kept?.refresh) clearTimeout(kept.refresh);
    const answer = kept ? kept.answer.then((token) => (isFresh(token) ? token : replace(token, profile)), () => requestToken(profile)) : requestToken(profile);
    const shared = answer.finally(() => {
      if (inFlight.get(profile) === shared) inFlight.delete(profile);
    });
    inFlight.set(profile, shared);
    return shared;
  }

  /** A new token for `profile` in place of `unused`, which is reported discarded first, so that its lease is free for the new one. */
  async function replace(unused: TokenAnswer, profile: string): Promise<TokenAnswer> {
    await report(unused.token, "discarded").catch(() => {});
    return requestToken(profile);
  }

  function prefetch(profile: string, shortRefreshes = 0): void {
    if (prefetched.has(profile) || inFlight.has(profile)) return;
    watchPageHide();
    const entry: Prefetched = { answer: requestToken(profile) };
    prefetched.set(profile, entry);
    entry.answer.then(
      (token) => {
        if (prefetched.get(profile) !== entry) return;
        entry.token = token;
        const floor = MIN_REFRESH_MS * 2 ** shortRefreshes;
        const wait = freshUntil(token) - performance.now();
        const short = !(wait > floor);
        // Kept as it is: `getToken` will judge it, and replace it if it must.
        if (short && shortRefreshes >= MAX_SHORT_REFRESHES) return;
        // Replaced as it nears its expiry unused, so that a click gets a token the provider still takes.
        entry.refresh = setTimeout(
          () => {
            if (prefetched.get(profile) !== entry) return;
            prefetched.delete(profile);
            void report(token.token, "discarded")
              .catch(() => {})
              .then(() => prefetch(profile, short ? shortRefreshes + 1 : 0));
          },
          short ? floor : Math.min(wait, MAX_TIMER_MS),
        );
      },
      () => {
        // A failed prefetch is forgotten; `getToken` asks again and reports the error then.
        if (prefetched.get(profile) === entry) prefetched.delete(profile);
      },
    );
  }

  async function report(token: string, event: UsageEvent, fields: { durationMs?: number; sessionId?: string; reason?: string } = {}, keepalive = false): Promise<void> {
    const body = { token, event, ...fields };
    if (keepalive) {
      // The page is going away: one try, which the browser finishes after it is gone.
      const response = await post(usageUrl, body, true);
      if (!response.ok) throw await problemOf(response);
      return;
    }
    await send(usageUrl, body, REPORT_ATTEMPTS, true);
  }

  /** `onDone`: told once the session has ended or failed. */
  function track(token: TokenAnswer, onDone?: () => void): SessionReporter {
    let startedAt: number | undefined;
    let sessionId: string | undefined;
    let done = false;
    const sendEnd = (reason: string | undefined, keepalive: boolean) => {
      if (done) return;
      done = true;
      onDone?.();
      live.delete(onPageHide);
      const durationMs = startedAt === undefined ? undefined : Math.max(0, Date.now() - startedAt);
      // The session id again: should `started` have been lost, the record still names the session.
      report(token.token, "ended", { durationMs, sessionId, reason: reason?.slice(0, 256) }, keepalive).catch(() => {});
    };
    const onPageHide = () => sendEnd("pagehide", true);
    return {
      token,
      started(id) {
        if (startedAt !== undefined || done) return;
        startedAt = Date.now();
        sessionId = id ? id.slice(0, 256) : undefined;
        live.add(onPageHide);
        watchPageHide();
        report(token.token, "started", { sessionId }).catch(() => {});
      },
      ended: (reason) => sendEnd(reason, false),
      async failed(reason) {
        if (done) return;
        done = true;
        onDone?.();
        live.delete(onPageHide);
        await report(token.token, "failed", { reason: reason?.slice(0, 256) }).catch(() => {});
      },
    };
  }

  let watching = false;
  function watchPageHide() {
    if (watching || typeof addEventListener !== "function") return;
    watching = true;
    // `sendBeacon` cannot carry `Authorization`; a keepalive fetch can, and outlives the page.
    addEventListener("pagehide", () => {
      for (const end of [...live]) end();
      // An unused prefetched token would hold one of the user's sessions until it expires. Forgotten
      // here too, so that a page restored from the back/forward cache asks for a new one.
      for (const [profile, entry] of [...prefetched]) {
        prefetched.delete(profile);
        if (entry.refresh) clearTimeout(entry.refresh);
        if (entry.token) report(entry.token.token, "discarded", {}, true).catch(() => {});
      }
    });
  }

  async function runSession<T>(profile: string, start: (token: TokenAnswer, reporter: SessionReporter) => Promise<T>, runOptions: RunSessionOptions): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let token = await getToken(profile);
      // Two sessions started at once share `getToken`'s request, and a single-use token starts one
      // session: the second asks for its own, in a scope of its own, since the server would hand the
      // tab's unstarted token back to the tab's scope.
      if (taken.has(token.token)) token = await requestToken(profile, `${clientId.slice(0, 100)}-${++extraScopes}`);
      const own = token.token;
      taken.add(own);
      // Free again once its session is over: a signer may well make the same token anew (a LiveKit
      // JWT made within the same second), and then the next session may have it.
      const reporter = track(token, () => taken.delete(own));
      try {
        return await start(token, reporter);
      } catch (error) {
        if (!runOptions.isRefusal(error)) throw error;
        // Evicted on the server before the next request, so that the retry gets a fresh token.
        await reporter.failed(errorReason(error));
        if (attempt >= 2) throw error;
      }
    }
  }

  return { clientId, getToken, prefetch: (profile) => prefetch(profile), track, runSession, report };
}

/** Options that cannot work fail here, naming the option, rather than on a user's click. */
function checkOptions(options: TollgateClientOptions): void {
  const fail = (option: string, problem: string) => {
    throw new TollgateClientError("invalid_option", 0, `${option}: ${problem}`);
  };
  if (typeof options?.url !== "string" && !(options?.url instanceof URL)) fail("url", "must be the token route's URL");
  const { maxAttempts, maxRetryDelayMs } = options;
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) fail("maxAttempts", `must be a whole number of at least 1, not ${String(maxAttempts)}`);
  if (maxRetryDelayMs !== undefined && !(Number.isFinite(maxRetryDelayMs) && maxRetryDelayMs >= 0)) fail("maxRetryDelayMs", `must be a number of milliseconds, at least 0, not ${String(maxRetryDelayMs)}`);
  for (const name of ["headers", "onRetry", "fetch"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") fail(name, "must be a function");
  }
}

/** Until when each answer may be handed to a provider, on this page's monotonic clock (`performance.now()`). */
const freshUntilByAnswer = new WeakMap<TokenAnswer, number>();

function freshUntil(token: TokenAnswer): number {
  return freshUntilByAnswer.get(token) ?? 0;
}

/** Whether a token is far enough from its expiry to be handed to a provider. */
function isFresh(token: TokenAnswer): boolean {
  return freshUntil(token) > performance.now();
}

/**
 * The token in a 200 (anything else there, a proxy's page say, is an invalid answer), with when it
 * stops being fresh worked out as it arrives: its life left is `expiresAt` less the server's clock
 * (its `Date`, which a page on another origin can read when the server exposes it, as tollgate's
 * CORS does), or less this page's clock when `Date` cannot be read; then a margin that fits that
 * life is taken off (the smaller of 10 minutes and a sixth, as the server's reuse cache does). The
 * page's clock may be off by any amount; counting from the answer's arrival on the monotonic clock
 * keeps that out of the reckoning wherever it can be.
 */
async function tokenOf(response: Response): Promise<TokenAnswer> {
  let answer: TokenAnswer | undefined;
  try {
    answer = JSON.parse(await response.text()) as TokenAnswer;
  } catch {
    // Below: not a token.
  }
  if (typeof answer?.token !== "string" || typeof answer.expiresAt !== "string") {
    throw new TollgateClientError("invalid_response", response.status, "The token server's answer is not a token");
  }
  const arrived = performance.now();
  const serverNow = Date.parse(response.headers.get("Date") ?? "");
  // `Date` is in whole seconds, rounded down: a second less, never life the token did not have.
  const lifeMs = Date.parse(answer.expiresAt) - (Number.isNaN(serverNow) ? Date.now() : serverNow + 1_000);
  freshUntilByAnswer.set(answer, arrived + lifeMs - Math.min(10 * 60_000, Math.max(0, lifeMs) / 6));
  return answer;
}

async function problemOf(response: Response): Promise<TollgateClientError> {
  let body: { type?: unknown; detail?: unknown; title?: unknown } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // Not problem+json: a proxy's page, say. The status still types it.
  }
  const type = typeof body?.type === "string" ? body.type : "";
  const code = type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : `http_${response.status}`;
  const detail = typeof body?.detail === "string" ? body.detail : typeof body?.title === "string" ? body.title : `The token server answered ${response.status}`;
  return new TollgateClientError(code, response.status, detail, retryAfterMs(response.headers.get("Retry-After")));
}

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Capped exponential back-off with full jitter, for answers that name no wait. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(8_000, BASE_RETRY_DELAY_MS * 2 ** (attempt - 1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorReason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return String(typeof code === "string" ? code : typeof message === "string" ? message : "refused").slice(0, 256);
}

function sessionStorageOrNull(): Storage | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    // Storage blocked (some privacy settings throw on access): the id then lasts as long as the page.
    return null;
  }
}

/** This tab's id: kept in `storage` so that a reload keeps it, made anew for a new tab. */
function tabClientId(storage: Pick<Storage, "getItem" | "setItem"> | null): string {
  try {
    const kept = storage?.getItem(CLIENT_ID_KEY);
    if (kept && /^[A-Za-z0-9_-]{1,128}$/.test(kept)) return kept;
  } catch {
    // As above: an id for this page alone.
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  try {
    storage?.setItem(CLIENT_ID_KEY, id);
  } catch {
    // Quota or privacy mode: the id still serves this page.
  }
  return id;
}
