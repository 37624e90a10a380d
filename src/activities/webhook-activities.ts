import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { LifecycleEvent } from '../batches/lifecycle-events.js';
import { findBatchById } from '../db/batches.js';
import { listAttemptsOfDelivery } from '../db/webhook-delivery-attempts.js';
import { insertDeadLetterOnce, recordDeadLetterRetryOutcome } from '../db/webhook-dead-letters.js';
import { findWebhookEvent } from '../db/webhook-events.js';
import { freezeWebhookEvent } from '../webhooks/freeze-webhook-event.js';
import type { ActivityDeps } from './activity-deps.js';
import { deliverWebhookAttempt } from './deliver-webhook.js';

export function createWebhookActivities(deps: ActivityDeps) {
  const { pool, log } = deps;
  return {
    /** Freezes the event's id and body in Postgres; see freezeWebhookEvent. */
    async recordWebhookEvent({ batchId, event, seq }: { batchId: string; event: LifecycleEvent; seq: number }) {
      const batch = await findBatchById(pool, batchId);
      if (!batch) throw ApplicationFailure.create({ type: 'BatchNotFound', message: `batch ${batchId} not found`, nonRetryable: true });
      const row = await freezeWebhookEvent(pool, batch, event, seq);
      return { eventId: row.id };
    },

    /** One delivery attempt; throws (retryably or not) unless the receiver answers 2xx. */
    async deliverWebhook({ eventId, deliveryId, timeoutSeconds }: { eventId: string; deliveryId: string; timeoutSeconds: number }) {
      return deliverWebhookAttempt(deps, { eventId, deliveryId, timeoutSeconds, attempt: activityInfo().attempt });
    },

    /** Writes the event's dead-letter entry, or updates it when a manual retry failed again. */
    async recordDeadLetter({ eventId, deliveryId, deadLetterId }: { eventId: string; deliveryId: string; deadLetterId?: number }) {
      const event = await findWebhookEvent(pool, eventId);
      if (!event) throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: `event ${eventId} not found`, nonRetryable: true });
      const attempts = await listAttemptsOfDelivery(pool, deliveryId);
      const last = attempts[attempts.length - 1];
      const errorMessage = last?.error ?? (last?.status_code ? `HTTP ${last.status_code}` : 'delivery failed');
      const lastAttemptAt = last?.attempted_at ?? null;
      if (deadLetterId !== undefined) {
        await recordDeadLetterRetryOutcome(pool, deadLetterId, deliveryId, {
          success: false,
          errorMessage,
          attempts: attempts.length,
          lastAttemptAt,
        });
        log.warn({ batchId: event.batch_id, eventId, deliveryId, deadLetterId }, 'webhook retry failed again');
        return { deadLetterId, attempts: attempts.length };
      }
      const batch = await findBatchById(pool, event.batch_id);
      const entry = await insertDeadLetterOnce(pool, {
        owner: event.owner,
        batchId: event.batch_id,
        eventId,
        eventType: event.type,
        webhookUrl: batch?.webhook_url ?? '',
        payload: event.payload,
        errorMessage,
        attempts: attempts.length,
        lastAttemptAt,
        deliveryId,
      });
      log.warn({ batchId: event.batch_id, eventId, deliveryId, deadLetterId: entry.id }, 'webhook dead-lettered');
      return { deadLetterId: entry.id, attempts: entry.attempts };
    },

    async recordDeadLetterRetrySuccess({ deadLetterId, deliveryId }: { deadLetterId: number; deliveryId: string }) {
      await recordDeadLetterRetryOutcome(pool, deadLetterId, deliveryId, { success: true });
    },
  };
}
