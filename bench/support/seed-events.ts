import { insertBatch, type BatchRow } from '../../src/db/batches.js';
import type { Pool } from '../../src/db/pool.js';
import { newId } from '../../src/shared/ids.js';
import { freezeWebhookEvent } from '../../src/webhooks/freeze-webhook-event.js';
import { runInLanes } from './measure.js';

export const SEEDED_EVENT = 'progress' as const;

export interface SeededEvent {
  batchId: string;
  eventId: string;
  seq: number;
  /** The frozen body, byte for byte what every attempt sends. */
  payload: string;
}

/**
 * Real lifecycle events without running real batches: a few batch rows with
 * a webhook, and `count` `progress` events spread over them, frozen exactly
 * as the recordWebhookEvent activity freezes them.
 */
export async function seedWebhookEvents(
  pool: Pool,
  opts: { count: number; batches: number; webhookUrl: string; secret: string; maxAttempts: number; timeoutSeconds: number },
): Promise<SeededEvent[]> {
  const rows: BatchRow[] = [];
  for (let b = 0; b < opts.batches; b++) {
    const row = await insertBatch(pool, {
      id: newId('batch'),
      owner: 'bench',
      endpoint: '/v1/chat/completions',
      inputFileId: 'file-bench-unused',
      completionWindow: '24h',
      expiresAt: new Date(Date.now() + 24 * 3600_000),
      metadata: null,
      idempotencyKey: null,
      requestFingerprint: 'bench',
      webhook: { url: opts.webhookUrl, secret: opts.secret, maxRetries: opts.maxAttempts, timeout: opts.timeoutSeconds, events: [SEEDED_EVENT] },
    });
    rows.push(row!);
  }

  const slots = Array.from({ length: opts.count }, (_, i) => ({ batch: rows[i % rows.length]!, seq: Math.floor(i / rows.length) + 1 }));
  const events: SeededEvent[] = new Array(slots.length);
  await runInLanes(slots, 8, async ({ batch, seq }, i) => {
    const event = await freezeWebhookEvent(pool, batch, SEEDED_EVENT, seq);
    events[i] = { batchId: batch.id, eventId: event.id, seq, payload: event.payload };
  });
  return events;
}
