import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { toBatchObject, type BatchObject } from '../batches/batch-object.js';
import type { RotateWebhookSecretRequest, UpdateWebhookRequest } from '../batches/create-batch-request.js';
import { findBatch, rotateBatchWebhookSecret, updateBatchWebhook, type BatchRow } from '../db/batches.js';
import { DEFAULT_WEBHOOK_EVENTS, webhookSettingsSignal, type LifecycleEvent } from '../workflows/contracts.js';
import { batchWorkflowId } from '../workflows/workflow-ids.js';
import { assertWebhookUrl } from './batch-service.js';
import type { ServiceDeps } from './service-deps.js';
import { ServiceError } from './service-error.js';
import { unixSeconds } from '../shared/unix-time.js';
import { withTemporalDeadline } from './temporal-call.js';

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
  if (!row) throw await notChanged(deps, owner, id, 'This batch has no webhook; give a url to add one.', 'url');
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
    await withTemporalDeadline(deps, () =>
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

/** Why no row changed: no such batch of this owner, or a batch without a webhook. */
async function notChanged(deps: ServiceDeps, owner: string, id: string, message: string, param: string): Promise<ServiceError> {
  if (!(await findBatch(deps.pool, owner, id))) return ServiceError.notFound('batch', id);
  return new ServiceError('conflict', message, 'webhook_not_configured', param);
}

/** A new signing secret in the Standard Webhooks form: `whsec_` + canonical base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Replaces the webhook's secret with `body.secret`, else a generated one, and
 * keeps signing with the secret it replaces for WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS.
 * The answer is the only place the new secret is ever shown.
 */
export async function rotateWebhookSecret(deps: ServiceDeps, owner: string, id: string, body: RotateWebhookSecretRequest) {
  const secret = body.secret ?? generateWebhookSecret();
  const { webhook } = deps.config;
  const row = await rotateBatchWebhookSecret(deps.pool, owner, id, secret, webhook.secret ?? null, webhook.secretRotationOverlapSeconds);
  if (!row) throw await notChanged(deps, owner, id, 'This batch has no webhook whose secret could be rotated.', 'id');
  deps.log.info({ batchId: id, owner, overlapSeconds: webhook.secretRotationOverlapSeconds }, 'batch webhook secret rotated');
  const batch = toBatchObject(row);
  return {
    ...batch,
    webhook: { ...batch.webhook!, secret, previous_secret_expires_at: unixSeconds(row.webhook_previous_secret_expires_at) },
  };
}
