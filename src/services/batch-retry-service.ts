import { toBatchObject, type BatchObject } from '../batches/batch-object.js';
import type { RetryFailedRequest } from '../batches/create-batch-request.js';
import { isRetryableErrorLine } from '../batches/retryable-failure.js';
import { countBatchRequests, readUnfinishedRequestPage } from '../db/batch-requests.js';
import { insertRetryBatch } from '../db/batch-retries.js';
import { findBatch, findBatchByIdempotencyKey, type BatchRow } from '../db/batches.js';
import { ChunkedFileWriter } from '../db/chunked-file-writer.js';
import { insertFile, setFileBytes } from '../db/files.js';
import { inTransaction, type PoolClient } from '../db/pool.js';
import { DEFAULT_BATCH_FILE_EXPIRES_AFTER_SECONDS } from '../files/expires-after.js';
import { newId } from '../shared/ids.js';
import {
  assertServedEndpoint,
  COMPLETION_WINDOW_MS,
  fingerprint,
  replayOrConflict,
  resolveWebhook,
  startBatchWorkflow,
} from './batch-service.js';
import type { ServiceDeps } from './service-deps.js';
import { ServiceError } from './service-error.js';

const FINISHED = new Set<BatchRow['status']>(['completed', 'failed', 'expired', 'cancelled']);
const PAGE_ROWS = 5_000;

/**
 * `POST /v1/batches/{id}/retry_failed`: a new batch of the finished batch's
 * requests worth retrying (see retryable-failure.ts), each with its original
 * custom_id and body, written to a new input file. It is an ordinary batch
 * linked both ways (`retried_from` on it, `retries` on the original), with the
 * original's endpoint, output expiry, metadata and webhook unless the body
 * gives others. The requests come from the batch's stored rows, the data its
 * error file was written from; once the retention clean-up removed them it can
 * no longer be retried.
 */
export async function retryFailedRequests(
  deps: ServiceDeps,
  owner: string,
  id: string,
  body: RetryFailedRequest,
  idempotencyKey: string | null,
): Promise<{ batch: BatchObject; replayed: boolean }> {
  const print = fingerprint({ retry_failed: id, ...body });
  if (idempotencyKey) {
    const existing = await findBatchByIdempotencyKey(deps.pool, owner, idempotencyKey);
    if (existing) return { batch: replayOrConflict(existing, print), replayed: true };
  }
  const original = await findBatch(deps.pool, owner, id);
  if (!original) throw ServiceError.notFound('batch', id);
  if (!FINISHED.has(original.status)) {
    throw new ServiceError('conflict', `Only a finished batch can be retried; this one is '${original.status}'.`, 'batch_not_finished', 'id');
  }
  assertServedEndpoint(deps, original.endpoint);
  const webhook = body.webhook === undefined ? undefined : await resolveWebhook(deps, { webhook: body.webhook });

  const retryId = newId('batch');
  const inputFileId = newId('file', '-');
  const row = await inTransaction(deps.pool, async (client) => {
    const lines = await writeRetryInput(client, original, { id: inputFileId, filename: `${id}_retry_failed.jsonl` });
    if (lines === 0) {
      throw new ServiceError(
        'conflict',
        'This batch has no request worth retrying: none expired, was cancelled or met a timeout, a connection error or a retryable upstream status (408, 409, 429, 5xx).',
        'no_retryable_requests',
        'id',
      );
    }
    const inserted = await insertRetryBatch(client, {
      id: retryId,
      owner,
      retriedFrom: id,
      inputFileId,
      expiresAt: new Date(Date.now() + COMPLETION_WINDOW_MS),
      metadata: body.metadata,
      webhook,
      idempotencyKey,
      requestFingerprint: print,
    });
    // As in createBatch: the row commits only once its workflow started.
    if (inserted) await startBatchWorkflow(deps, retryId);
    return inserted;
  });
  if (!row) {
    // A concurrent request with the same key won the insert; this one's input file was rolled back.
    const existing = await findBatchByIdempotencyKey(deps.pool, owner, idempotencyKey!);
    return { batch: replayOrConflict(existing!, print), replayed: true };
  }
  deps.log.info({ batchId: retryId, retriedFrom: id, owner, requests: row.total_count }, 'batch retry created');
  return { batch: toBatchObject(row), replayed: false };
}

/**
 * Writes the input file of the retry (a `batch` file of the owner, which
 * expires as an uploaded one does) and returns how many requests it holds.
 */
async function writeRetryInput(client: PoolClient, original: BatchRow, file: { id: string; filename: string }): Promise<number> {
  if ((await countBatchRequests(client, original.id)) < original.total_count) {
    throw new ServiceError(
      'conflict',
      "This batch's request records were removed by the retention clean-up (RETENTION_BATCH_REQUESTS); it can no longer be retried.",
      'batch_requests_removed',
      'id',
    );
  }
  await insertFile(client, {
    id: file.id,
    owner: original.owner,
    purpose: 'batch',
    filename: file.filename,
    expiresAfterSeconds: DEFAULT_BATCH_FILE_EXPIRES_AFTER_SECONDS,
  });
  const writer = new ChunkedFileWriter(client, file.id);
  let lines = 0;
  for (let afterLine = -1; ; ) {
    const page = await readUnfinishedRequestPage(client, original.id, afterLine, PAGE_ROWS);
    if (page.length === 0) break;
    for (const request of page) {
      if (!isRetryableErrorLine(request.state === 'pending' ? null : request.result_line)) continue;
      // The body is stored as the JSON text of the input line's body: spliced in as is.
      const head = JSON.stringify({ custom_id: request.custom_id, method: 'POST', url: original.endpoint });
      await writer.writeLine(`${head.slice(0, -1)},"body":${request.body}}`);
      lines += 1;
    }
    afterLine = page[page.length - 1]!.line;
  }
  await writer.flush();
  await setFileBytes(client, file.id, writer.bytes);
  return lines;
}
