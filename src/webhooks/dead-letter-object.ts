import type { DeadLetterRow } from '../db/webhook-dead-letters.js';
import { unixSeconds } from '../shared/unix-time.js';
import { publicEventType } from '../workflows/contracts.js';

/** A dead-letter entry as users see it, in the API and in `webhook.dead_lettered` events. */
export function toDeadLetterObject(row: DeadLetterRow) {
  return {
    id: row.id,
    object: 'webhook_dead_letter' as const,
    batch_id: row.batch_id,
    event_id: row.event_id,
    event_type: publicEventType(row.event_type),
    target: row.target,
    reason: row.reason,
    webhook_url: row.webhook_url,
    payload: JSON.parse(row.payload) as unknown,
    error_message: row.error_message,
    attempts: row.attempts,
    last_attempt_at: unixSeconds(row.last_attempt_at),
    created_at: unixSeconds(row.created_at),
    retried_at: unixSeconds(row.retried_at),
    retry_success: row.retry_success,
    state: row.state,
    retry_count: row.retry_count,
    delivery_workflow_id: row.last_delivery_id,
  };
}
