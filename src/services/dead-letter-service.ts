import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { ServiceError } from './service-error.js';
import { findBatchById } from '../db/batches.js';
import {
  claimDeadLettersForRetry,
  deleteDeadLetter,
  findDeadLetter,
  listDeadLetters,
  markDeadLetterRetryAbandoned,
  releaseDeadLetterClaim,
  type DeadLetterFilter,
  type DeadLetterRow,
} from '../db/webhook-dead-letters.js';
import { newId } from '../shared/ids.js';
import { toDeadLetterObject } from '../webhooks/dead-letter-object.js';
import { deadLetterBulkRetryWorkflow } from '../workflows/dead-letter-bulk-retry-workflow.js';
import { deliveryStartOptions } from '../workflows/delivery-start-options.js';
import type { DeliveryTarget, WebhookDeliveryInput } from '../workflows/contracts.js';
import { findWebhookEndpoint } from '../db/webhook-endpoints.js';
import { webhookDeliveryWorkflow } from '../workflows/webhook-delivery-workflow.js';
import type { ServiceDeps } from './service-deps.js';
import { withTemporalDeadline } from './temporal-call.js';
import { webhookRetrySettings } from '../webhooks/retry-settings.js';

/** At most this many entries per bulk retry call; the response says when more match. */
export const BULK_RETRY_MAX_ENTRIES = 500;

export async function listDeadLetterObjects(
  deps: ServiceDeps,
  owner: string,
  filter: DeadLetterFilter,
  page: { limit: number; after?: number },
) {
  const rows = await listDeadLetters(deps.pool, owner, filter, { ...page, limit: page.limit + 1 });
  return rows.map(toDeadLetterObject);
}

export async function getDeadLetterObject(deps: ServiceDeps, owner: string, id: number) {
  const row = await findDeadLetter(deps.pool, owner, id);
  if (!row) throw ServiceError.notFound('dead-letter entry', String(id));
  return toDeadLetterObject(row);
}

export async function deleteDeadLetterObject(deps: ServiceDeps, owner: string, id: number) {
  if (!(await deleteDeadLetter(deps.pool, owner, id))) throw ServiceError.notFound('dead-letter entry', String(id));
  return { id, object: 'webhook_dead_letter' as const, deleted: true };
}

/**
 * The delivery input for retrying an entry: to the same target, with that
 * target's current settings (a deleted endpoint's retry stops at its first
 * attempt, and the entry says why).
 */
async function retryDelivery(deps: ServiceDeps, row: DeadLetterRow) {
  const { webhook } = deps.config;
  let settings: { url: string | null; maxRetries: number | null; timeout: number | null };
  let target: DeliveryTarget;
  if (row.target === 'batch_webhook') {
    const batch = row.batch_id === null ? undefined : await findBatchById(deps.pool, row.batch_id);
    settings = { url: batch?.webhook_url ?? null, maxRetries: batch?.webhook_max_retries ?? null, timeout: batch?.webhook_timeout ?? null };
    target = { kind: 'batch_webhook' };
  } else {
    const endpoint = await findWebhookEndpoint(deps.pool, row.owner, row.target);
    settings = { url: endpoint?.url ?? null, maxRetries: endpoint?.max_retries ?? null, timeout: endpoint?.timeout ?? null };
    target = { kind: 'endpoint', endpointId: row.target };
  }
  const input: WebhookDeliveryInput = {
    batchId: row.batch_id ?? '',
    eventId: row.event_id,
    event: row.event_type,
    maxAttempts: settings.maxRetries ?? webhook.defaultMaxRetries,
    timeoutSeconds: settings.timeout ?? webhook.defaultTimeoutSeconds,
    retry: webhookRetrySettings(webhook),
    deadLetterId: row.id,
    target,
  };
  return { workflowId: row.last_delivery_id!, webhookUrl: settings.url ?? row.webhook_url, input };
}

/**
 * Re-triggers one entry's delivery as a new delivery workflow. Concurrent
 * calls for one entry start one delivery: the losers get the entry with the
 * delivery already under way.
 */
export async function retryDeadLetter(deps: ServiceDeps, owner: string, id: number, reclaimed = false) {
  const [claimed] = await claimDeadLettersForRetry(deps.pool, owner, { id }, 1);
  if (!claimed) {
    // The claim skips a row another claim holds: wait for that one, so both answers name the same delivery.
    const row = await findDeadLetter(deps.pool, owner, id, { waitForClaims: true });
    if (!row) throw ServiceError.notFound('dead-letter entry', String(id));
    if (row.state === 'succeeded') {
      throw new ServiceError('conflict', 'This entry was already delivered by an earlier retry.', 'already_delivered', 'id');
    }
    if (!reclaimed && (await releaseIfRetryEnded(deps, row))) return retryDeadLetter(deps, owner, id, true);
    return toDeadLetterObject(row);
  }
  const delivery = await retryDelivery(deps, claimed);
  try {
    await withTemporalDeadline(deps, () =>
      deps.temporal.workflow.start(webhookDeliveryWorkflow, {
        ...deliveryStartOptions(delivery.workflowId, delivery.webhookUrl, delivery.input),
        taskQueue: deps.config.temporal.taskQueue,
      }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
      await releaseDeadLetterClaim(deps.pool, claimed.id);
      throw ServiceError.temporalUnavailable('The retry', err, deps.config.temporal.namespace);
    }
  }
  deps.log.info({ deadLetterId: claimed.id, batchId: claimed.batch_id, deliveryId: delivery.workflowId }, 'dead-letter retry started');
  return toDeadLetterObject(claimed);
}

/**
 * An entry stays `retrying` while its delivery workflow runs. If an operator
 * terminated that workflow, nothing would ever move the entry on: mark it
 * failed so it can be retried again. A delivery not started yet (a bulk retry
 * still pacing its starts) is left alone.
 */
async function releaseIfRetryEnded(deps: ServiceDeps, row: DeadLetterRow): Promise<boolean> {
  if (row.state !== 'retrying' || !row.last_delivery_id) return false;
  let status: string;
  try {
    const handle = deps.temporal.workflow.getHandle(row.last_delivery_id);
    status = (await withTemporalDeadline(deps, () => handle.describe())).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
  if (status === 'RUNNING') return false;
  return markDeadLetterRetryAbandoned(deps.pool, row.id, row.last_delivery_id, `the retry delivery ended without a result (${status.toLowerCase()})`);
}

/**
 * Retries every matching entry (up to a cap), oldest event first, started at
 * the configured rate by a workflow named `<workflowIdPrefix>/bulk_…`.
 */
export async function retryDeadLettersInBulk(deps: ServiceDeps, owner: string, filter: DeadLetterFilter, workflowIdPrefix = `dead-letter-retry/${owner}`) {
  const claimed = await claimDeadLettersForRetry(deps.pool, owner, filter, BULK_RETRY_MAX_ENTRIES + 1);
  const extra = claimed.slice(BULK_RETRY_MAX_ENTRIES);
  for (const row of extra) await releaseDeadLetterClaim(deps.pool, row.id);
  const rows = claimed.slice(0, BULK_RETRY_MAX_ENTRIES);
  const workflowId = `${workflowIdPrefix}/${newId('bulk')}`;
  if (rows.length > 0) {
    const deliveries = await Promise.all(rows.map((row) => retryDelivery(deps, row)));
    try {
      await withTemporalDeadline(deps, () =>
        deps.temporal.workflow.start(deadLetterBulkRetryWorkflow, {
          taskQueue: deps.config.temporal.taskQueue,
          workflowId,
          args: [{ deliveries, perSecond: deps.config.webhook.bulkRetryPerSecond }],
        }),
      );
    } catch (err) {
      for (const row of rows) await releaseDeadLetterClaim(deps.pool, row.id);
      throw ServiceError.temporalUnavailable('The retries', err, deps.config.temporal.namespace);
    }
  }
  return {
    object: 'webhook_dead_letter.bulk_retry' as const,
    started: rows.length,
    has_more: extra.length > 0,
    rate_per_second: deps.config.webhook.bulkRetryPerSecond,
    workflow_id: rows.length > 0 ? workflowId : null,
    data: rows.map((row) => ({ id: row.id, delivery_workflow_id: row.last_delivery_id })),
  };
}
