import { ServiceError } from './service-error.js';
import { publicEventType } from '../workflows/contracts.js';
import { findBatch } from '../db/batches.js';
import { listAttemptsOfBatch, type DeliveryAttemptRow } from '../db/webhook-delivery-attempts.js';
import type { ServiceDeps } from './service-deps.js';
import { unixSeconds } from '../shared/unix-time.js';

export function toDeliveryAttemptObject(row: DeliveryAttemptRow) {
  return {
    id: row.id,
    object: 'webhook_delivery_attempt' as const,
    event_id: row.event_id,
    event_type: publicEventType(row.event_type),
    delivery_workflow_id: row.delivery_id,
    attempt: row.attempt,
    url: row.url,
    attempted_at: unixSeconds(row.attempted_at),
    duration_ms: row.duration_ms,
    status_code: row.status_code,
    response_body: row.response_body,
    error: row.error,
    success: row.success,
  };
}

/** Every recorded delivery attempt for a batch's webhook events, oldest first. */
export async function listWebhookDeliveries(
  deps: ServiceDeps,
  owner: string,
  batchId: string,
  page: { limit: number; after?: number },
) {
  if (!(await findBatch(deps.pool, owner, batchId))) throw ServiceError.notFound('batch', batchId);
  const rows = await listAttemptsOfBatch(deps.pool, owner, batchId, { ...page, limit: page.limit + 1 });
  return rows.map(toDeliveryAttemptObject);
}
