import { toBatchObject } from '../batches/batch-object.js';
import { eventTypeName, type LifecycleEvent } from '../workflows/contracts.js';
import type { BatchRow } from '../db/batches.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { insertWebhookEventOnce, type WebhookEventRow } from '../db/webhook-events.js';
import { newId } from '../shared/ids.js';

/**
 * Freezes an event: its id and body (the Batch object as GET returns it now)
 * are stored once per (batch, event, seq), and every attempt and manual retry
 * sends exactly these bytes. A repeat returns the event first stored.
 */
export function freezeWebhookEvent(
  db: Pool | PoolClient,
  batch: BatchRow,
  event: LifecycleEvent,
  seq: number,
): Promise<WebhookEventRow> {
  const id = newId('evt');
  const payload = JSON.stringify({
    id,
    object: 'event',
    type: eventTypeName(event),
    created_at: Math.floor(Date.now() / 1000),
    data: toBatchObject(batch),
  });
  return insertWebhookEventOnce(db, { id, owner: batch.owner, batchId: batch.id, type: event, seq, payload });
}
