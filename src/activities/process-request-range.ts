import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { usageOfResponse } from '../batches/request-usage.js';
import { findPendingInRange, saveFinishedRequests, type FinishedRequest } from '../db/batch-requests.js';
import { addRequestCounts, findBatchById } from '../db/batches.js';
import { isDatabaseUnavailable } from '../db/connection-errors.js';
import { inTransaction } from '../db/pool.js';
import { newId } from '../shared/ids.js';
import type { UpstreamResult } from '../upstream/upstream-client.js';
import { asUpstreamRouter } from '../upstream/upstream-router.js';
import type { ActivityDeps } from './activity-deps.js';

const FLUSH_EVERY_RESULTS = 200;
const FLUSH_EVERY_MS = 250;
const HEARTBEAT_EVERY_MS = 2_000;
/** How long finished results wait in memory for Postgres before the chunk gives up (and is retried). */
const KEEP_RESULTS_WHILE_DB_DOWN_MS = 5 * 60_000;

export interface ProcessRequestRangeInput {
  batchId: string;
  endpoint: string;
  fromLine: number;
  toLine: number;
  pauseWhenDown?: boolean;
}

/** Why a batch pauses, as its `pause_reason` says it: the model, never the upstream's URL. */
function pauseReasonOf(model: string | null, result: UpstreamResult): string {
  const answer = result.statusCode === null ? 'does not answer (connection errors)' : `answers ${result.statusCode}`;
  return `The upstream for ${model === null ? 'this batch' : `model ${JSON.stringify(model)}`} ${answer}; the batch resumes when it answers again.`;
}

/** The output-file or error-file line for one finished request, in OpenAI's shape. */
export function resultLine(customId: string, result: UpstreamResult): FinishedRequest['resultLine'] {
  const id = newId('batch_req');
  if (result.ok) {
    return JSON.stringify({
      id,
      custom_id: customId,
      response: { status_code: result.statusCode, request_id: result.requestId, body: result.body },
      error: null,
    });
  }
  return JSON.stringify({
    id,
    custom_id: customId,
    response:
      result.statusCode === null
        ? null
        : { status_code: result.statusCode, request_id: result.requestId ?? null, body: result.body },
    error: result.error,
  });
}

/**
 * Sends the still-pending requests of lines [fromLine, toLine) upstream and
 * stores each result as it arrives (in small batches). Requests already
 * finished by an earlier attempt are skipped, so a retry after a crash
 * neither loses nor repeats output lines. Returns how many results this attempt saved.
 *
 * `pauseWhenDown`: when the upstream turns out to be down (see the client's
 * `pauseAfterFailures`), the range stops early: what answered is saved, the
 * rest stays pending, and `paused` says why, for the workflow to wait and run
 * the range again. Without it (workflows started before pausing existed) every
 * request spends its retries and a failure is recorded as such.
 */
export async function processRequestRange(
  { pool, upstream, log, metrics }: ActivityDeps,
  { batchId, endpoint, fromLine, toLine, pauseWhenDown = false }: ProcessRequestRangeInput,
): Promise<{ saved: number; paused?: string }> {
  const ctx = Context.current();
  const batch = await findBatchById(pool, batchId);
  if (!batch) throw new Error(`batch ${batchId} not found`);
  // Validation refused unrouted models; a route can still vanish if the worker restarted with other routes.
  const route = asUpstreamRouter(upstream).route(batch.model);
  if (!route) {
    throw ApplicationFailure.create({ type: 'NoUpstreamRoute', message: `no upstream route serves model ${JSON.stringify(batch.model)}`, nonRetryable: true });
  }
  const pending = await findPendingInRange(pool, batchId, fromLine, toLine);

  let buffer: FinishedRequest[] = [];
  let saved = 0;
  let flushing: Promise<void> = Promise.resolve();
  let lastFlushAt = Date.now();
  // Answers already paid for are kept while Postgres is away: a flush that cannot reach it
  // waits and tries again (the activity keeps heartbeating) rather than failing the chunk,
  // whose retry would send those requests upstream a second time.
  let unreachableSince: number | undefined;
  const saveUntilStored = async (rows: FinishedRequest[]): Promise<void> => {
    for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 5_000)) {
      try {
        await inTransaction(pool, async (client) => {
          const changed = await saveFinishedRequests(client, batchId, rows);
          // Same transaction as the rows: a request's usage is counted when, and only when, its row first finishes.
          await addRequestCounts(client, batchId, changed.completed, changed.failed, changed.usage);
        });
        saved += rows.length;
        if (unreachableSince !== undefined) log.info({ batchId, fromLine, toLine }, 'Postgres is back: results saved');
        unreachableSince = undefined;
        return;
      } catch (err) {
        unreachableSince ??= Date.now();
        if (!isDatabaseUnavailable(err) || Date.now() - unreachableSince > KEEP_RESULTS_WHILE_DB_DOWN_MS) throw err;
        log.warn({ batchId, fromLine, toLine, rows: rows.length, retryInMs: delayMs }, 'Postgres unreachable: keeping results to save');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  };
  const flush = (): Promise<void> => {
    const rows = buffer;
    buffer = [];
    lastFlushAt = Date.now();
    if (rows.length === 0) return flushing;
    // Flushes run one after another; each is one transaction for rows and counters.
    flushing = flushing.then(() => saveUntilStored(rows));
    return flushing;
  };
  const heartbeat = setInterval(() => ctx.heartbeat({ saved }), HEARTBEAT_EVERY_MS);
  const flushTimer = setInterval(() => {
    if (buffer.length > 0 && Date.now() - lastFlushAt >= FLUSH_EVERY_MS) void flush().catch(() => undefined);
  }, FLUSH_EVERY_MS);

  // One signal stops every request: the activity's cancellation, or the first request that throws.
  const stop = new AbortController();
  const onCancel = () => stop.abort();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  if (ctx.cancellationSignal.aborted) stop.abort();
  let failure: { error: unknown } | undefined;
  let paused: string | undefined;
  try {
    // allSettled, not all: the activity returns only once no request is still on its way to the buffer.
    await Promise.allSettled(
      pending.map(async (request) => {
        let result: UpstreamResult;
        try {
          result = await route.client.send({ path: endpoint, body: request.body, signal: stop.signal, pauseWhenDown });
        } catch (err) {
          // Left pending: the batch is being cancelled or expired, or this attempt is failing and will be retried.
          if (!stop.signal.aborted) {
            failure ??= { error: err };
            stop.abort();
          }
          return;
        }
        if (!result.ok && result.upstreamDown) {
          // Not a result: left pending for after the pause, and the requests still on their way stop too.
          paused ??= pauseReasonOf(batch.model, result);
          stop.abort();
          return;
        }
        metrics?.requestFinished({ endpoint, body: request.body, ok: result.ok });
        buffer.push({
          line: request.line,
          state: result.ok ? 'completed' : 'failed',
          resultLine: resultLine(request.custom_id, result),
          usage: result.ok ? usageOfResponse(result.body) : null,
        });
        if (buffer.length >= FLUSH_EVERY_RESULTS) void flush().catch(() => undefined);
      }),
    );
  } finally {
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    clearInterval(flushTimer);
  }
  // Flushes run in sequence, so this waits for every earlier one: nothing writes after the activity ends.
  // The heartbeat runs until then, so a flush waiting for Postgres does not time the activity out.
  try {
    await flush();
  } finally {
    clearInterval(heartbeat);
  }
  ctx.heartbeat({ saved });
  if (failure) throw failure.error;
  if (ctx.cancellationSignal.aborted) {
    log.info({ batchId, fromLine, toLine, saved }, 'request range stopped by cancellation');
    throw new CancelledFailure('request range cancelled');
  }
  if (paused !== undefined) {
    log.warn({ batchId, fromLine, toLine, saved, route: route.name }, 'upstream down: request range paused');
    return { saved, paused };
  }
  return { saved };
}
