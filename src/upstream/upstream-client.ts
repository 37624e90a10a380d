import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from '../shared/logger.js';
import { parseRetryAfterMs } from '../shared/retry-after.js';
import { Semaphore } from './semaphore.js';

/**
 * HTTP client for the OpenAI-compatible model server. One instance is shared
 * by every activity in a worker: it owns the connection pool and a semaphore
 * that caps concurrent requests, and it retries overload answers
 * (429/5xx, connection errors, timeouts) with backoff so that a busy upstream
 * slows the batch down instead of failing its requests.
 */

export interface UpstreamClientOptions {
  /** Origin plus optional path prefix, e.g. `http://vllm:8000` or `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string | undefined;
  /** Maximum concurrent requests across all callers, and the pool's connection count. */
  concurrency: number;
  /**
   * Per attempt: the longest wait for the response headers, and then for each body chunk.
   * undici's coarse timers may fire up to about a second late, which is fine for model calls.
   */
  timeoutMs: number;
  /** Retries after the first attempt; `0` means one attempt only. */
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Use this dispatcher instead of an owned pool; `close()` then leaves it open. */
  dispatcher?: Dispatcher;
  logger?: Pick<Logger, 'debug'>;
  /** Told about every attempt and retry (the worker's metrics); the client works the same without one. */
  observer?: UpstreamObserver;
  /**
   * The upstream counts as down when this many attempts in a row (across
   * every request of this client) failed with a connection error or a
   * 502/503/504, with no other answer in between, and a probe (see `probe`)
   * then fails too: a server that answers the probe is up, and only those
   * requests fail. Capped at `maxRetries + 1` so that one request cannot spend
   * its retries on an outage unnoticed. 0 or unset: never down.
   */
  pauseAfterFailures?: number;
}

/** What one HTTP attempt came to, in a few words fit for a metric label. */
export type UpstreamAttemptOutcome =
  | 'success'
  | 'rate_limited'
  | 'client_error'
  | 'server_error'
  | 'unexpected_status'
  | 'timeout'
  | 'connection_error';

export interface UpstreamObserver {
  /** An attempt got its answer (or none) after `seconds`, not counting the wait for a slot. */
  attemptFinished(path: string, outcome: UpstreamAttemptOutcome, seconds: number): void;
  /** A failed attempt is followed by another. */
  retryScheduled(path: string, reason: UpstreamAttemptOutcome): void;
}

export interface UpstreamRequest {
  /** Path as it appears in a batch line, e.g. `/v1/chat/completions`. */
  path: string;
  /** Raw JSON text, sent as is. */
  body: string;
  signal?: AbortSignal;
  /** Sent as `x-request-id`; also the result's id when the upstream sends none. */
  requestId?: string;
  /**
   * While the upstream is down (see `pauseAfterFailures`), give up at once
   * with `upstreamDown: true` instead of retrying: the caller keeps the
   * request for later rather than recording it as failed.
   */
  pauseWhenDown?: boolean;
}

export interface UpstreamError {
  /** `upstream_error` (HTTP error status), `timeout` or `connection_error`. */
  code: string;
  message: string;
}

export type UpstreamResult =
  | { ok: true; statusCode: number; requestId: string; body: unknown; attempts: number }
  | {
      ok: false;
      /** The last status the upstream answered, or null when no answer arrived. */
      statusCode: number | null;
      requestId?: string;
      body: unknown;
      error: UpstreamError;
      attempts: number;
      /** Set when it failed only because the upstream is down; asked for with `pauseWhenDown`. */
      upstreamDown?: true;
    };

/** What a probe of a down upstream found: `up` once it answers at all (any status below 500). */
export interface UpstreamProbe {
  up: boolean;
  /** What it answered, or why not, in a few words (no URL). */
  detail: string;
}

export interface UpstreamClient {
  /** Resolves with ok:false for permanent errors; rejects only on caller abort or a closed client. */
  send(req: UpstreamRequest): Promise<UpstreamResult>;
  close(): Promise<void>;
  /** Requests currently holding a concurrency slot. */
  readonly inFlight: number;
  /** Whether the upstream is known to be down (see `pauseAfterFailures`), until it answers again. */
  readonly down: boolean;
  /** One cheap request (`GET /v1/models`, outside the concurrency limit); an answer below 500 ends the down state. */
  probe(): Promise<UpstreamProbe>;
}

/** Thrown when the caller's signal aborts a send. */
export class UpstreamAbortError extends Error {
  override name = 'AbortError';
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** Whether an upstream status means "overloaded or broken for now", worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Whether an attempt's outcome says the server is not there (rather than refusing or failing this request). */
function isOutage(outcome: AttemptOutcome): boolean {
  return outcome.kind === 'failure' ? outcome.code === 'connection_error' : OUTAGE_STATUS.has(outcome.statusCode);
}

const OUTAGE_STATUS = new Set([502, 503, 504]);
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Delay before the retry that follows failed attempt number `attempt` (1-based).
 * A parseable `Retry-After` (seconds or HTTP date) wins, capped at `max`;
 * otherwise exponential backoff with full jitter: uniform in [0, min(max, base·2^(attempt-1))).
 */
export function retryDelayMs(
  attempt: number,
  retryAfterHeader: string | null | undefined,
  base: number,
  max: number,
  random: () => number,
  now: number = Date.now(),
): number {
  const retryAfter = parseRetryAfterMs(retryAfterHeader, now);
  if (retryAfter !== null) return Math.min(retryAfter, max);
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}


/** Creates the shared upstream client; see {@link UpstreamClient}. */
export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const base = new URL(options.baseUrl);
  const origin = base.origin;
  const prefix = base.pathname.replace(/\/+$/, '');
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher =
    options.dispatcher ??
    new Pool(origin, {
      connections: options.concurrency,
      pipelining: 1,
      keepAliveTimeout: 30_000,
    });
  const slots = new Semaphore(options.concurrency, abortError);
  const staticHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.apiKey) staticHeaders.authorization = `Bearer ${options.apiKey}`;
  let closed = false;
  // Attempts in a row that found the upstream away; any other answer resets it. Timeouts leave it
  // as it is: a slow generation is not an outage.
  const downAfter = options.pauseAfterFailures ? Math.min(options.pauseAfterFailures, options.maxRetries + 1) : 0;
  let outagesInARow = 0;
  let down = false;
  const noteOutcome = (outcome: AttemptOutcome) => {
    if (isOutage(outcome)) outagesInARow += 1;
    else if (outcome.kind === 'response') [outagesInARow, down] = [0, false];
  };
  // Concurrent requests that all reach the threshold share one probe.
  let probing: Promise<UpstreamProbe> | undefined;
  const confirmDown = async (): Promise<boolean> => {
    if (down) return true;
    probing ??= probe().finally(() => {
      probing = undefined;
    });
    return !(await probing).up;
  };

  /** Upstream path: a base URL ending in `/v1` and a batch path starting with `/v1/` share one `/v1`. */
  const fullPath = (path: string): string =>
    prefix.endsWith('/v1') && path.startsWith('/v1/') ? prefix + path.slice(3) : prefix + path;

  async function attempt(req: UpstreamRequest): Promise<AttemptOutcome> {
    const headers = req.requestId ? { ...staticHeaders, 'x-request-id': req.requestId } : staticHeaders;
    try {
      // The timeout uses undici's own headers/body timers rather than an AbortController
      // and timer per request: measurably cheaper at thousands of requests per second.
      // A non-streaming completion sends its headers when it is done, so the headers
      // timeout bounds the whole generation.
      const res = await dispatcher.request({
        origin,
        path: fullPath(req.path),
        method: 'POST',
        headers,
        body: req.body,
        signal: req.signal ?? null,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      const text = await res.body.text();
      return {
        kind: 'response',
        statusCode: res.statusCode,
        requestId: headerValue(res.headers['x-request-id']),
        retryAfter: headerValue(res.headers['retry-after']),
        body: parseBody(text),
      };
    } catch (err) {
      if (req.signal?.aborted) throw abortError(req.signal);
      const code = (err as { code?: unknown }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        return { kind: 'failure', code: 'timeout', message: `no complete answer within ${options.timeoutMs} ms` };
      }
      // Invalid arguments are our bug, not the network's: do not retry them.
      if (code === 'UND_ERR_INVALID_ARG') throw err;
      return { kind: 'failure', code: 'connection_error', message: describeError(err) };
    }
  }

  async function send(req: UpstreamRequest): Promise<UpstreamResult> {
    if (closed) throw new Error('upstream client is closed');
    if (req.signal) allowManyListeners(req.signal);
    const maxAttempts = options.maxRetries + 1;
    // Known down: nothing is sent until a probe (or another request) finds it answering.
    if (req.pauseWhenDown && down) return downResult(req.requestId, 0);
    for (let n = 1; ; n++) {
      if (req.signal?.aborted) throw abortError(req.signal);
      await slots.acquire(req.signal);
      let outcome: AttemptOutcome;
      const started = performance.now();
      try {
        outcome = await attempt(req);
      } finally {
        // Released before any backoff sleep so waiting retries do not hold a slot.
        slots.release();
      }
      const observed = attemptOutcomeOf(outcome);
      options.observer?.attemptFinished(req.path, observed, (performance.now() - started) / 1000);
      noteOutcome(outcome);

      const requestId = outcome.kind === 'response' ? (outcome.requestId ?? req.requestId) : req.requestId;
      if (outcome.kind === 'response' && outcome.statusCode >= 200 && outcome.statusCode < 300) {
        return { ok: true, statusCode: outcome.statusCode, requestId: requestId ?? newRequestId(), body: outcome.body, attempts: n };
      }
      const retryable = outcome.kind === 'failure' || isRetryableStatus(outcome.statusCode);
      if (!retryable) return failureResult(outcome, requestId, n);
      const looksDown = downAfter > 0 && isOutage(outcome) && outagesInARow >= downAfter;
      if (req.pauseWhenDown && looksDown && (await confirmDown())) return { ...failureResult(outcome, requestId, n), upstreamDown: true };
      if (n >= maxAttempts || closed) return failureResult(outcome, requestId, n);
      options.observer?.retryScheduled(req.path, observed);

      const retryAfter = outcome.kind === 'response' ? outcome.retryAfter : undefined;
      const delay = retryDelayMs(n, retryAfter, options.retryBaseMs, options.retryMaxMs, Math.random);
      options.logger?.debug(
        { requestId, attempt: n, status: outcome.kind === 'response' ? outcome.statusCode : outcome.code, delayMs: delay },
        'upstream attempt failed, retrying',
      );
      await sleep(delay, req.signal);
    }
  }

  async function probe(): Promise<UpstreamProbe> {
    if (closed) throw new Error('upstream client is closed');
    try {
      const res = await dispatcher.request({
        origin,
        path: fullPath('/v1/models'),
        method: 'GET',
        headers: { accept: 'application/json', ...(staticHeaders.authorization ? { authorization: staticHeaders.authorization } : {}) },
        headersTimeout: Math.min(options.timeoutMs, PROBE_TIMEOUT_MS),
        bodyTimeout: Math.min(options.timeoutMs, PROBE_TIMEOUT_MS),
      });
      await res.body.dump();
      if (res.statusCode >= 500) {
        down = true;
        return { up: false, detail: `answered ${res.statusCode}` };
      }
      [outagesInARow, down] = [0, false];
      return { up: true, detail: `answered ${res.statusCode}` };
    } catch (err) {
      down = true;
      return { up: false, detail: (err as { code?: unknown }).code === 'UND_ERR_HEADERS_TIMEOUT' ? 'no answer in time' : describeError(err) };
    }
  }

  return {
    send,
    probe,
    get down() {
      return down;
    },
    get inFlight() {
      return slots.active;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

type AttemptOutcome =
  | { kind: 'response'; statusCode: number; requestId: string | undefined; retryAfter: string | undefined; body: unknown }
  | { kind: 'failure'; code: 'timeout' | 'connection_error'; message: string };

/** An attempt's outcome as a metric label. */
function attemptOutcomeOf(outcome: AttemptOutcome): UpstreamAttemptOutcome {
  if (outcome.kind === 'failure') return outcome.code;
  const status = outcome.statusCode;
  if (status >= 200 && status < 300) return 'success';
  if (status === 429) return 'rate_limited';
  if (status >= 400 && status < 500) return 'client_error';
  if (status >= 500 && status < 600) return 'server_error';
  return 'unexpected_status';
}

function failureResult(outcome: AttemptOutcome, requestId: string | undefined, attempts: number): Extract<UpstreamResult, { ok: false }> {
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  if (outcome.kind === 'failure') {
    return { ok: false, statusCode: null, requestId, body: null, error: { code: outcome.code, message: `${outcome.message} (${tries})` }, attempts };
  }
  const upstreamMessage = errorMessageOf(outcome.body);
  const message = `upstream answered ${outcome.statusCode} after ${tries}${upstreamMessage ? `: ${upstreamMessage}` : ''}`;
  return { ok: false, statusCode: outcome.statusCode, requestId, body: outcome.body, error: { code: 'upstream_error', message }, attempts };
}

function downResult(requestId: string | undefined, attempts: number): UpstreamResult {
  const error = { code: 'connection_error', message: 'the upstream is down: not sent' };
  return { ok: false, statusCode: null, requestId, body: null, error, attempts, upstreamDown: true };
}

/** The `error.message` of an OpenAI-shaped error body, shortened, if there is one. */
function errorMessageOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' ? message.slice(0, 500) : undefined;
}

function parseBody(text: string): unknown {
  if (text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}

function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}

function abortError(signal: AbortSignal): UpstreamAbortError {
  return new UpstreamAbortError('upstream request aborted by caller', { cause: signal.reason });
}

const widenedSignals = new WeakSet<AbortSignal>();

/**
 * One activity signal is shared by hundreds of concurrent sends, each adding an
 * abort listener that it removes when done; that is by design, not a leak, so
 * Node's warning at 11 listeners is lifted for such signals.
 */
function allowManyListeners(signal: AbortSignal): void {
  if (widenedSignals.has(signal)) return;
  widenedSignals.add(signal);
  setMaxListeners(0, signal);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
