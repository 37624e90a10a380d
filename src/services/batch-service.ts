import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { ServiceError } from './service-error.js';
import { toBatchObject, type BatchObject } from '../batches/batch-object.js';
import type { CreateBatchRequest, WebhookConfigInput } from '../batches/create-batch-request.js';
import { DEFAULT_WEBHOOK_EVENTS } from '../workflows/contracts.js';
import {
  findBatch,
  findBatchByIdempotencyKey,
  insertBatch,
  listBatches,
  markCancelling,
  type BatchRow,
  type NewBatch,
} from '../db/batches.js';
import { findFile } from '../db/files.js';
import { inTransaction } from '../db/pool.js';
import { newId } from '../shared/ids.js';
import { assertDeliverableUrl } from '../webhooks/url-guard.js';
import { batchWorkflow } from '../workflows/batch-workflow.js';
import { cancelBatchSignal } from '../workflows/contracts.js';
import { BATCH_ID_ATTRIBUTE } from '../workflows/search-attributes.js';
import { batchWorkflowId } from '../workflows/workflow-ids.js';
import type { ServiceDeps } from './service-deps.js';
import { withTemporalDeadline } from './temporal-call.js';

export const COMPLETION_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Refuses a webhook URL the service would never deliver to (see url-guard.ts); `param` names the field. */
export async function assertWebhookUrl(deps: ServiceDeps, url: string, param: string): Promise<void> {
  const checked = await assertDeliverableUrl(url, deps.config.webhook.allowPrivateNetworks);
  if (!checked.ok) throw new ServiceError('invalid_request', `Invalid webhook URL: ${checked.reason}`, 'invalid_webhook_url', param);
}

/**
 * Resolves a `webhook` object, or else the legacy `metadata.webhook_url`,
 * into stored settings, with the service's defaults for what it leaves out.
 */
export async function resolveWebhook(
  deps: ServiceDeps,
  body: { webhook?: WebhookConfigInput | null; metadata?: Record<string, string> | null },
): Promise<NewBatch['webhook']> {
  const { webhook } = deps.config;
  const legacyUrl = body.metadata?.webhook_url;
  const source = body.webhook ?? (legacyUrl ? { url: legacyUrl } : null);
  if (!source) return null;
  await assertWebhookUrl(deps, source.url, body.webhook ? 'webhook.url' : 'metadata.webhook_url');
  return {
    url: source.url,
    secret: body.webhook?.secret ?? null,
    maxRetries: body.webhook?.max_retries ?? webhook.defaultMaxRetries,
    timeout: body.webhook?.timeout ?? webhook.defaultTimeoutSeconds,
    events: body.webhook?.events ?? DEFAULT_WEBHOOK_EVENTS,
  };
}

/** Refuses a batch endpoint the configured upstream does not serve (`UPSTREAM_ENDPOINTS`). */
export function assertServedEndpoint(deps: ServiceDeps, endpoint: string): void {
  const served: readonly string[] = deps.config.upstream.endpoints;
  if (served.includes(endpoint)) return;
  throw new ServiceError(
    'invalid_request',
    `The endpoint '${endpoint}' is not served by this service's upstream; use one of ${served.join(', ')}.`,
    'unsupported_endpoint',
    'endpoint',
  );
}

/** Same key + same body → same batch; the fingerprint covers the body only. */
export function fingerprint(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

export function replayOrConflict(existing: BatchRow, print: string): BatchObject {
  if (existing.request_fingerprint !== print) {
    throw new ServiceError('conflict', 'This Idempotency-Key was already used with a different request body.', 'idempotency_key_reused', 'Idempotency-Key');
  }
  return toBatchObject(existing);
}

export async function createBatch(
  deps: ServiceDeps,
  owner: string,
  body: CreateBatchRequest,
  idempotencyKey: string | null,
): Promise<{ batch: BatchObject; replayed: boolean }> {
  const print = fingerprint(body);
  if (idempotencyKey) {
    const existing = await findBatchByIdempotencyKey(deps.pool, owner, idempotencyKey);
    if (existing) return { batch: replayOrConflict(existing, print), replayed: true };
  }
  assertServedEndpoint(deps, body.endpoint);
  const file = await findFile(deps.pool, owner, body.input_file_id);
  if (!file) throw new ServiceError('invalid_request', `No file found with id '${body.input_file_id}'.`, 'file_not_found', 'input_file_id');
  if (file.purpose !== 'batch') {
    throw new ServiceError('invalid_request', `File '${file.id}' has purpose '${file.purpose}'; a batch input needs purpose 'batch'.`, 'invalid_file_purpose', 'input_file_id');
  }
  const webhook = await resolveWebhook(deps, body);

  const id = newId('batch');
  // The row and the workflow appear together or not at all: the row is
  // committed only after the workflow started. A crash in between rolls the row
  // back, and the workflow, finding no batch, ends without doing anything.
  const row = await inTransaction(deps.pool, async (client) => {
    const inserted = await insertBatch(client, {
      id,
      owner,
      endpoint: body.endpoint,
      inputFileId: body.input_file_id,
      completionWindow: body.completion_window,
      expiresAt: new Date(Date.now() + COMPLETION_WINDOW_MS),
      metadata: body.metadata ?? null,
      idempotencyKey,
      requestFingerprint: print,
      webhook,
      outputExpiresAfterSeconds: body.output_expires_after?.seconds ?? null,
    });
    if (inserted) await startBatchWorkflow(deps, id);
    return inserted;
  });
  if (!row) {
    // A concurrent request with the same key won the insert (and committed: the insert waited for it).
    const existing = await findBatchByIdempotencyKey(deps.pool, owner, idempotencyKey!);
    return { batch: replayOrConflict(existing!, print), replayed: true };
  }
  deps.log.info({ batchId: id, owner }, 'batch created');
  return { batch: toBatchObject(row), replayed: false };
}

/** Starts the batch's workflow; call it inside the transaction that inserts the row (see createBatch). */
export async function startBatchWorkflow(deps: ServiceDeps, id: string): Promise<void> {
  try {
    await withTemporalDeadline(deps, () =>
      deps.temporal.workflow.start(batchWorkflow, {
        taskQueue: deps.config.temporal.taskQueue,
        workflowId: batchWorkflowId(id),
        args: [{ batchId: id }],
        typedSearchAttributes: [{ key: BATCH_ID_ATTRIBUTE, value: id }],
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    deps.log.error({ batchId: id, err: (err as Error).message }, 'could not start batch workflow');
    throw ServiceError.temporalUnavailable('The batch', err, deps.config.temporal.namespace);
  }
}

export async function getBatch(deps: ServiceDeps, owner: string, id: string): Promise<BatchObject> {
  const row = await findBatch(deps.pool, owner, id);
  if (!row) throw ServiceError.notFound('batch', id);
  return toBatchObject(row);
}

export async function listBatchObjects(deps: ServiceDeps, owner: string, page: { limit: number; after?: string }) {
  const rows = await listBatches(deps.pool, owner, { limit: page.limit + 1, after: page.after });
  return rows.map(toBatchObject);
}

/**
 * Marks the batch `cancelling` and tells its workflow, which stops sending
 * requests, keeps what finished and ends `cancelled`. Cancelling twice is fine.
 */
export async function cancelBatch(deps: ServiceDeps, owner: string, id: string): Promise<BatchObject> {
  const row = await findBatch(deps.pool, owner, id);
  if (!row) throw ServiceError.notFound('batch', id);
  if (row.status === 'cancelling' || row.status === 'cancelled') return toBatchObject(row);
  if (row.status !== 'validating' && row.status !== 'in_progress') {
    throw new ServiceError('conflict', `Cannot cancel a batch with status '${row.status}'.`, 'batch_not_cancellable', 'id');
  }
  // Signal first: if Temporal cannot be reached nothing changes and the user may retry.
  try {
    await withTemporalDeadline(deps, () =>
      deps.temporal.workflow.getHandle(batchWorkflowId(id)).signal(cancelBatchSignal),
    );
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) {
      throw new ServiceError('unavailable', 'The batch could not be cancelled right now; please retry.', 'temporal_unavailable');
    }
  }
  await markCancelling(deps.pool, owner, id);
  return getBatch(deps, owner, id);
}
