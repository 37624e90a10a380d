import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { deadLetterTargetOf, endpointIdOf, type DeliveryTarget, type EndpointPlan, type LifecycleEvent, type WebhookAttemptOutcome } from '../workflows/contracts.js';
import { findBatchById } from '../db/batches.js';
import { finishDeliveryAttempt, listAttemptsOfDelivery, startDeliveryAttempt, type FinishedDeliveryAttempt } from '../db/webhook-delivery-attempts.js';
import { insertDeadLetterOnce, recordDeadLetterRetryOutcome } from '../db/webhook-dead-letters.js';
import { disableWebhookEndpoint, listSubscribedEndpoints } from '../db/webhook-endpoints.js';
import { findWebhookEvent, findWebhookEventWithTarget, type WebhookEventWithTarget } from '../db/webhook-events.js';
import { freezeWebhookEvent } from '../webhooks/freeze-webhook-event.js';
import type { ActivityDeps } from './activity-deps.js';
import { sendWebhook } from './deliver-webhook.js';

/** The error an attempt shows when its worker stopped mid-request. */
export const INTERRUPTED_ATTEMPT_ERROR = 'interrupted';

function attemptRecord(deliveryId: string, attempt: number, outcome: WebhookAttemptOutcome): FinishedDeliveryAttempt {
  if (outcome.kind === 'interrupted') {
    return { deliveryId, attempt, state: 'interrupted', attemptedAt: null, durationMs: null, statusCode: null, responseBody: null, error: INTERRUPTED_ATTEMPT_ERROR, success: false };
  }
  return {
    deliveryId,
    attempt,
    state: 'finished',
    attemptedAt: new Date(outcome.attemptedAt),
    durationMs: outcome.durationMs,
    statusCode: outcome.statusCode,
    responseBody: outcome.responseBody,
    error: outcome.kind === 'delivered' ? null : outcome.error,
    success: outcome.kind === 'delivered',
  };
}

/** Why a delivery to an endpoint cannot go on (the endpoint was disabled or deleted); null when it can. */
export function targetUnavailable(event: WebhookEventWithTarget, target: DeliveryTarget | undefined): string | null {
  if (!event.unavailable || target?.kind !== 'endpoint') return null;
  return `stopped: the endpoint ${target.endpointId} was ${event.unavailable}`;
}

export function createWebhookActivities(deps: ActivityDeps) {
  const { pool, log } = deps;

  async function prepareWebhookAttempt({ eventId, deliveryId, attempt, target }: { eventId: string; deliveryId: string; attempt: number; target?: DeliveryTarget }) {
    const event = await findWebhookEventWithTarget(pool, eventId, endpointIdOf(target));
    if (!event) throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: `event ${eventId} not found`, nonRetryable: true });
    const unavailable = targetUnavailable(event, target);
    if (unavailable) throw ApplicationFailure.create({ type: 'WebhookTargetUnavailable', message: unavailable, nonRetryable: true });
    if (!event.url) throw ApplicationFailure.create({ type: 'WebhookNotConfigured', message: 'the batch has no webhook URL', nonRetryable: true });
    await startDeliveryAttempt(pool, { eventId, deliveryId, attempt, url: event.url });
  }

  return {
    /**
     * The owner's enabled endpoints that subscribe to `event`, read when the
     * event happens: the endpoints it fans out to besides the batch's webhook.
     */
    async findSubscribedEndpoints({ batchId, event }: { batchId: string; event: LifecycleEvent }): Promise<EndpointPlan[]> {
      const batch = await findBatchById(pool, batchId);
      if (!batch) return [];
      const rows = await listSubscribedEndpoints(pool, batch.owner, event);
      return rows.map((row) => ({ id: row.id, url: row.url, maxAttempts: row.max_retries, timeoutSeconds: row.timeout }));
    },

    /** Freezes the event's id and body in Postgres; see freezeWebhookEvent. */
    async recordWebhookEvent({ batchId, event, seq }: { batchId: string; event: LifecycleEvent; seq: number }) {
      const batch = await findBatchById(pool, batchId);
      if (!batch) throw ApplicationFailure.create({ type: 'BatchNotFound', message: `batch ${batchId} not found`, nonRetryable: true });
      const row = await freezeWebhookEvent(pool, batch, event, seq);
      return { eventId: row.id };
    },

    /**
     * Logs HTTP attempt `attempt` as started, before its request goes out.
     * Idempotent, so the workflow retries it for as long as Postgres is away.
     */
    prepareWebhookAttempt,

    /** The POST alone; see sendWebhook. */
    async sendWebhook(input: { eventId: string; deliveryId: string; attempt: number; timeoutSeconds: number; target?: DeliveryTarget }) {
      return sendWebhook(deps, input);
    },

    /**
     * Finishes a started attempt with what it came to; idempotent. A 410 Gone
     * from an endpoint disables it here too (Standard Webhooks: the receiver
     * wants no more), so its other deliveries stop at their next attempt.
     * `target` is absent in deliveries started before it was passed.
     */
    async recordWebhookAttemptOutcome({ deliveryId, attempt, outcome, target }: { deliveryId: string; attempt: number; outcome: WebhookAttemptOutcome; target?: DeliveryTarget }) {
      await finishDeliveryAttempt(pool, attemptRecord(deliveryId, attempt, outcome));
      const endpointId = endpointIdOf(target);
      if (outcome.kind !== 'gone' || endpointId === undefined) return;
      const reason = `410 Gone on ${new Date(outcome.attemptedAt).toISOString()}`;
      const disabled = await disableWebhookEndpoint(pool, endpointId, reason);
      if (disabled) log.warn({ endpointId, owner: disabled.owner, deliveryId, attempt, reason }, 'webhook endpoint disabled: it answered 410 Gone');
    },

    /**
     * Kept for deliveries started before attempts were logged by the workflow
     * (see the patch in webhookDeliveryWorkflow): one attempt numbered by
     * Temporal's activity attempt, thrown on failure. New deliveries never call it.
     */
    async deliverWebhook({ eventId, deliveryId, timeoutSeconds }: { eventId: string; deliveryId: string; timeoutSeconds: number }) {
      const attempt = activityInfo().attempt;
      await prepareWebhookAttempt({ eventId, deliveryId, attempt });
      const outcome = await sendWebhook(deps, { eventId, deliveryId, attempt, timeoutSeconds });
      await finishDeliveryAttempt(pool, attemptRecord(deliveryId, attempt, outcome));
      if (outcome.kind === 'delivered') return { attempt, statusCode: outcome.statusCode };
      if (outcome.kind === 'forbidden' || outcome.kind === 'gone') {
        throw ApplicationFailure.create({ type: 'WebhookTargetForbidden', message: outcome.error, nonRetryable: true });
      }
      const delay = outcome.retryAfterSeconds === undefined ? undefined : `${Math.min(Math.max(outcome.retryAfterSeconds, 1), deps.config.webhook.retryMaxIntervalSeconds)}s`;
      throw ApplicationFailure.create({ type: 'WebhookDeliveryFailed', message: `attempt ${attempt} failed: ${outcome.error}`, nextRetryDelay: delay });
    },

    /**
     * Writes the dead-letter entry of the event for this delivery's target, or
     * updates it when a manual retry failed again. `stoppedBecause` says why a
     * delivery ended before its attempts ran out (e.g. its endpoint was disabled).
     */
    async recordDeadLetter({ eventId, deliveryId, deadLetterId, target, stoppedBecause }: { eventId: string; deliveryId: string; deadLetterId?: number; target?: DeliveryTarget; stoppedBecause?: string }) {
      const event = await findWebhookEvent(pool, eventId);
      if (!event) throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: `event ${eventId} not found`, nonRetryable: true });
      // A test event belongs to no batch and is never dead-lettered (webhookTestWorkflow does not call this).
      if (event.batch_id === null) throw ApplicationFailure.create({ type: 'WebhookTestEvent', message: `event ${eventId} is a test event`, nonRetryable: true });
      const batchId = event.batch_id;
      const attempts = await listAttemptsOfDelivery(pool, deliveryId);
      const last = attempts[attempts.length - 1];
      const errorMessage = stoppedBecause ?? last?.error ?? (last?.status_code ? `HTTP ${last.status_code}` : 'delivery failed');
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
      const withTarget = await findWebhookEventWithTarget(pool, eventId, endpointIdOf(target));
      const entry = await insertDeadLetterOnce(pool, {
        owner: event.owner,
        batchId,
        eventId,
        eventType: event.type,
        target: deadLetterTargetOf(target),
        // A deleted endpoint has no URL left: the one its last attempt went to.
        webhookUrl: withTarget?.url ?? last?.url ?? '',
        payload: event.payload,
        errorMessage,
        attempts: attempts.length,
        lastAttemptAt,
        deliveryId,
      });
      log.warn({ batchId: event.batch_id, eventId, deliveryId, deadLetterId: entry.id, target: entry.target }, 'webhook dead-lettered');
      return { deadLetterId: entry.id, attempts: entry.attempts };
    },

    async recordDeadLetterRetrySuccess({ deadLetterId, deliveryId }: { deadLetterId: number; deliveryId: string }) {
      await recordDeadLetterRetryOutcome(pool, deadLetterId, deliveryId, { success: true });
    },
  };
}
