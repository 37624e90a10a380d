import { WorkflowNotFoundError } from '@temporalio/client';
import { toBatchObject, type BatchObject } from '../batches/batch-object.js';
import type { UpdateWebhookRequest } from '../batches/create-batch-request.js';
import { findBatch, updateBatchWebhook, type BatchRow } from '../db/batches.js';
import { DEFAULT_WEBHOOK_EVENTS, webhookSettingsSignal, type LifecycleEvent } from '../workflows/contracts.js';
import { batchWorkflowId } from '../workflows/workflow-ids.js';
import { assertWebhookUrl } from './batch-service.js';
import type { ServiceDeps } from './service-deps.js';
import { ServiceError } from './service-error.js';

const TEMPORAL_CALL_DEADLINE_MS = 10_000;
const FINAL_STATUSES = new Set(['completed', 'failed', 'cancelled', 'expired']);

/**
 * Changes a batch's webhook settings. Every attempt reads the URL and secret
 * from Postgres, so deliveries under way (and dead-letter retries) use them
 * from their next attempt; `events`, `max_retries` and `timeout` apply to
 * events emitted afterwards, which the running batch workflow is told of.
 * A batch without a webhook gets one only when `url` is given.
 */
export async function updateWebhook(deps: ServiceDeps, owner: string, id: string, body: UpdateWebhookRequest): Promise<BatchObject> {
  if (body.url !== undefined) await assertWebhookUrl(deps, body.url, 'url');
  const { webhook } = deps.config;
  const row = await updateBatchWebhook(
    deps.pool,
    owner,
    id,
    { url: body.url, events: body.events, maxRetries: body.max_retries, timeout: body.timeout, secret: body.secret },
    { events: DEFAULT_WEBHOOK_EVENTS, maxRetries: webhook.defaultMaxRetries, timeout: webhook.defaultTimeoutSeconds },
  );
  if (!row) {
    if (!(await findBatch(deps.pool, owner, id))) throw ServiceError.notFound('batch', id);
    throw new ServiceError('conflict', 'This batch has no webhook; give a url to add one.', 'webhook_not_configured', 'url');
  }
  deps.log.info({ batchId: id, owner, fields: Object.keys(body) }, 'batch webhook updated');
  await tellRunningBatch(deps, row);
  return toBatchObject(row);
}

/** The batch workflow read its webhook settings when it started; a running one is sent the new ones (never the secret). */
async function tellRunningBatch(deps: ServiceDeps, row: BatchRow): Promise<void> {
  if (FINAL_STATUSES.has(row.status) || row.webhook_url === null) return;
  const settings = {
    url: row.webhook_url,
    events: (row.webhook_events ?? []) as LifecycleEvent[],
    maxAttempts: row.webhook_max_retries ?? deps.config.webhook.defaultMaxRetries,
    timeoutSeconds: row.webhook_timeout ?? deps.config.webhook.defaultTimeoutSeconds,
  };
  try {
    await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, () =>
      deps.temporal.workflow.getHandle(batchWorkflowId(row.id)).signal(webhookSettingsSignal, settings),
    );
  } catch (err) {
    // The workflow has ended: it emits nothing more, and what is saved is all that matters.
    if (err instanceof WorkflowNotFoundError) return;
    deps.log.error({ batchId: row.id, err: (err as Error).message }, 'could not tell the batch workflow of new webhook settings');
    throw new ServiceError(
      'unavailable',
      'The webhook settings were saved, but the running batch could not be told right now; repeat the same request.',
      'temporal_unavailable',
    );
  }
}
