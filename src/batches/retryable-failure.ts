/**
 * Which failed requests `POST /v1/batches/{id}/retry_failed` sends again:
 * those that never got an answer through no fault of their own, and those
 * the upstream refused for now. A request the upstream refused for what it
 * is (400, 401, 403, 404, 422, …) would fail the same way again.
 */

/** Error codes of requests that were never sent: their batch expired, was cancelled or stopped. */
const NOT_EXECUTED = new Set(['batch_expired', 'batch_cancelled', 'request_not_executed']);
/** Error codes of requests whose attempts got no answer (see upstream-client.ts). */
const NO_ANSWER = new Set(['timeout', 'connection_error']);

/** Upstream statuses that say "not now" rather than "not this": timeout, conflict, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Whether a request's error-file line is worth retrying. `null`: the request
 * has no line because it never ran (still pending in a batch that failed mid-run).
 */
export function isRetryableErrorLine(resultLine: string | null): boolean {
  if (resultLine === null) return true;
  let parsed: { response?: { status_code?: unknown } | null; error?: { code?: unknown } | null };
  try {
    parsed = JSON.parse(resultLine) as typeof parsed;
  } catch {
    return false;
  }
  const code = parsed?.error?.code;
  if (typeof code === 'string' && (NOT_EXECUTED.has(code) || NO_ANSWER.has(code))) return true;
  const status = parsed?.response?.status_code;
  return typeof status === 'number' && isRetryableStatus(status);
}
