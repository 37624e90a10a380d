import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  deadLetterTargetOf,
  endpointIdOf,
  isOperationalEventType,
  TEST_EVENT_TYPE,
  WEBHOOK_NOT_SENT,
  type DeliveryTarget,
  type EndpointPlan,
  type LifecycleEvent,
  type OneTaskAttemptResult,
  type RecordedAttempt,
  type RecordedDeadLetter,
  type RecordedEvent,
  type WebhookAttemptOutcome,
} from '../workflows/contracts.js';
import { endpointDeliveryWorkflowId } from '../workflows/workflow-ids.js';
import { findBatchById } from '../db/batches.js';
import { finishDeliveryAttempt, listAttemptsOfDelivery, startDeliveryAttempt, type FinishedDeliveryAttempt } from '../db/webhook-delivery-attempts.js';
import { insertDeadLetterOnce, recordDeadLetterRetryOutcome } from '../db/webhook-dead-letters.js';
import { disableWebhookEndpoint, findEndpointDisabledFor, listSubscribedEndpoints, noteEndpointAttempt, type WebhookEndpointRow } from '../db/webhook-endpoints.js';
import { findWebhookEvent, findWebhookEventWithTarget, type WebhookEventWithTarget } from '../db/webhook-events.js';
import { freezeWebhookEvent } from '../webhooks/freeze-webhook-event.js';
import type { ActivityDeps } from './activity-deps.js';
import { sendWebhook, sendWebhookEvent } from './deliver-webhook.js';

/** The error an attempt shows when its worker stopped mid-request. */
export const INTERRUPTED_ATTEMPT_ERROR = 'interrupted';

function attemptRecord(deliveryId: string, attempt: number, outcome: WebhookAttemptOutcome): FinishedDeliveryAttempt {
  if (outcome.kind === 'interrupted') {
    return { deliveryId, attempt, state: 'interrupted', attemptedAt: null, durationMs: null, statusCode: null, responseBody: null, error: INTERRUPTED_ATTEMPT_ERROR, success: false, outcome };
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
    outcome,
  };
}

/** Why a delivery to an endpoint cannot go on (the endpoint was disabled or deleted); null when it can. */
export function targetUnavailable(event: WebhookEventWithTarget, target: DeliveryTarget | undefined): string | null {
  if (!event.unavailable || target?.kind !== 'endpoint') return null;
  return `stopped: the endpoint ${target.endpointId} was ${event.unavailable}`;
}

export const toEndpointPlan = (row: WebhookEndpointRow): EndpointPlan => ({ id: row.id, url: row.url, maxAttempts: row.max_retries, timeoutSeconds: row.timeout });

/** Whether an attempt counts against its endpoint's failing streak: a worker that died mid-request is not the receiver's fault. */
const countsAsFailure = (outcome: WebhookAttemptOutcome): boolean => outcome.kind === 'failed' || outcome.kind === 'forbidden';

export function createWebhookActivities(deps: ActivityDeps) {
  const { pool, log } = deps;
  const disableAfterSeconds = deps.config.webhook.endpointDisableAfterSeconds;

  /** Disables the endpoint if it is still enabled, and tells the caller so an operational event goes out. */
  async function disableEndpoint(endpointId: string, reason: string, context: Record<string, unknown>): Promise<RecordedAttempt> {
    const disabled = await disableWebhookEndpoint(pool, endpointId, reason);
    if (disabled) log.warn({ ...context, endpointId, owner: disabled.owner, reason }, 'webhook endpoint disabled');
    // A repeat of the step that disabled it (its result was lost) finds it disabled for this very reason.
    const row = disabled ?? (await findEndpointDisabledFor(pool, endpointId, reason));
    if (!row) return { disabledEndpoint: null };
    return { disabledEndpoint: { endpointId, owner: row.owner, disabledAtMs: row.updated_at.getTime() } };
  }

  /** The event with its target's URL and secrets, if the delivery can go on; throws (non-retryable) if it cannot. */
  async function deliverableEvent(eventId: string, target: DeliveryTarget | undefined): Promise<WebhookEventWithTarget & { url: string }> {
    const event = await findWebhookEventWithTarget(pool, eventId, endpointIdOf(target));
    if (!event) throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: `event ${eventId} not found`, nonRetryable: true });
    const unavailable = targetUnavailable(event, target);
    if (unavailable) throw ApplicationFailure.create({ type: 'WebhookTargetUnavailable', message: unavailable, nonRetryable: true });
    if (!event.url) throw ApplicationFailure.create({ type: 'WebhookNotConfigured', message: 'the batch has no webhook URL', nonRetryable: true });
    return { ...event, url: event.url };
  }

  async function prepareWebhookAttempt({ eventId, deliveryId, attempt, target }: { eventId: string; deliveryId: string; attempt: number; target?: DeliveryTarget }): Promise<{ alreadyStarted: boolean; outcome: WebhookAttemptOutcome | null }> {
    const event = await deliverableEvent(eventId, target);
    return startDeliveryAttempt(pool, { eventId, deliveryId, attempt, url: event.url });
  }

  /**
   * Finishes a started attempt with what it came to; idempotent. For an
   * endpoint it also keeps the failing streak, and disables the endpoint on
   * a 410 Gone (Standard Webhooks: the receiver wants no more) or once every
   * attempt failed for WEBHOOK_ENDPOINT_DISABLE_AFTER_SECONDS; its other
   * deliveries then stop at their next attempt and keep their events.
   * `target` is absent in deliveries started before it was passed.
   */
  async function recordAttemptOutcome({ deliveryId, attempt, outcome, target }: { deliveryId: string; attempt: number; outcome: WebhookAttemptOutcome; target?: DeliveryTarget }): Promise<RecordedAttempt> {
    await finishDeliveryAttempt(pool, attemptRecord(deliveryId, attempt, outcome));
    const endpointId = endpointIdOf(target);
    if (endpointId === undefined || outcome.kind === 'interrupted') return { disabledEndpoint: null };
    if (outcome.kind === 'gone') {
      return disableEndpoint(endpointId, `410 Gone on ${new Date(outcome.attemptedAt).toISOString()}`, { deliveryId, attempt });
    }
    const streak = await noteEndpointAttempt(pool, endpointId, !countsAsFailure(outcome));
    const since = streak?.failing_since;
    if (!since || !streak.enabled || disableAfterSeconds === 0) return { disabledEndpoint: null };
    if (Date.now() - since.getTime() < disableAfterSeconds * 1000) return { disabledEndpoint: null };
    return disableEndpoint(endpointId, `every attempt failed since ${since.toISOString()}`, { deliveryId, attempt });
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
      return rows.filter((row) => row.enabled).map(toEndpointPlan);
    },

    /**
     * Freezes a lifecycle event and finds its targets in one step: null when
     * nothing subscribes (no event is stored). The owner's enabled endpoints
     * that subscribe get a delivery; each disabled one keeps the event in the
     * dead-letter queue as `endpoint_disabled`, unsent, for a later recovery.
     */
    async recordLifecycleEvent({ batchId, event, seq, batchWebhook }: { batchId: string; event: LifecycleEvent; seq: number; batchWebhook: boolean }): Promise<RecordedEvent | null> {
      const batch = await findBatchById(pool, batchId);
      if (!batch) throw ApplicationFailure.create({ type: 'BatchNotFound', message: `batch ${batchId} not found`, nonRetryable: true });
      const subscribed = await listSubscribedEndpoints(pool, batch.owner, event);
      if (!batchWebhook && subscribed.length === 0) return null;
      const frozen = await freezeWebhookEvent(pool, batch, event, seq);
      for (const endpoint of subscribed.filter((row) => !row.enabled)) {
        await insertDeadLetterOnce(pool, {
          owner: batch.owner,
          batchId,
          eventId: frozen.id,
          eventType: event,
          target: endpoint.id,
          webhookUrl: endpoint.url,
          payload: frozen.payload,
          errorMessage: `not sent: the endpoint ${endpoint.id} is disabled`,
          attempts: 0,
          lastAttemptAt: null,
          deliveryId: endpointDeliveryWorkflowId(batchId, endpoint.id, event, seq),
          reason: 'endpoint_disabled',
        });
      }
      return { eventId: frozen.id, endpoints: subscribed.filter((row) => row.enabled).map(toEndpointPlan) };
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
     * Idempotent, so the workflow retries it for as long as Postgres is away;
     * `alreadyStarted` says an earlier run logged it (and may have sent it).
     */
    prepareWebhookAttempt,

    /**
     * A whole attempt in one activity task: logs it as started, POSTs it,
     * records the outcome. For an attempt already logged, it sends nothing
     * and returns the recorded outcome, or `interrupted` if none was recorded.
     * Throws `WebhookNotSent` when the POST never went out; a failure to
     * record after the POST comes back as `recorded: false`.
     */
    async attemptWebhook(input: { eventId: string; deliveryId: string; attempt: number; timeoutSeconds: number; target?: DeliveryTarget }): Promise<OneTaskAttemptResult> {
      // Read once, before the attempt is logged: after that, nothing but the POST happens before its outcome.
      let event: Awaited<ReturnType<typeof deliverableEvent>>;
      let logged: Awaited<ReturnType<typeof startDeliveryAttempt>>;
      try {
        event = await deliverableEvent(input.eventId, input.target);
        logged = await startDeliveryAttempt(pool, { eventId: input.eventId, deliveryId: input.deliveryId, attempt: input.attempt, url: event.url });
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw ApplicationFailure.create({ type: WEBHOOK_NOT_SENT, message: `not sent: ${(err as Error).message}` });
      }
      const outcome = logged.alreadyStarted ? (logged.outcome ?? { kind: 'interrupted' as const }) : await sendWebhookEvent(deps, input, event);
      try {
        return { outcome, recorded: true, ...(await recordAttemptOutcome({ deliveryId: input.deliveryId, attempt: input.attempt, outcome, target: input.target })) };
      } catch (err) {
        log.warn({ deliveryId: input.deliveryId, attempt: input.attempt, err: (err as Error).message }, 'attempt made, not recorded yet');
        return { outcome, recorded: false, disabledEndpoint: null };
      }
    },

    /** The POST alone; see sendWebhook. */
    async sendWebhook(input: { eventId: string; deliveryId: string; attempt: number; timeoutSeconds: number; target?: DeliveryTarget }) {
      return sendWebhook(deps, input);
    },

    recordWebhookAttemptOutcome: recordAttemptOutcome,

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
    async recordDeadLetter({
      eventId,
      deliveryId,
      deadLetterId,
      target,
      stoppedBecause,
    }: { eventId: string; deliveryId: string; deadLetterId?: number; target?: DeliveryTarget; stoppedBecause?: string }): Promise<RecordedDeadLetter> {
      const event = await findWebhookEvent(pool, eventId);
      if (!event) throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: `event ${eventId} not found`, nonRetryable: true });
      // A test event is never dead-lettered (webhookTestWorkflow does not call this).
      if (event.type === TEST_EVENT_TYPE) throw ApplicationFailure.create({ type: 'WebhookTestEvent', message: `event ${eventId} is a test event`, nonRetryable: true });
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
      // A disabled endpoint keeps the event for its recovery; the owner already hears of the endpoint itself.
      const reason = withTarget?.unavailable === 'disabled' ? 'endpoint_disabled' : 'delivery_failed';
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
        reason,
      });
      log.warn({ batchId: event.batch_id, eventId, deliveryId, deadLetterId: entry.id, target: entry.target, reason }, 'webhook dead-lettered');
      // Never about an operational event: a failed notice would otherwise notify about itself.
      const notify = entry.inserted && reason === 'delivery_failed' && !isOperationalEventType(event.type);
      return { deadLetterId: entry.id, attempts: entry.attempts, ...(notify ? { notify: { owner: event.owner } } : {}) };
    },

    async recordDeadLetterRetrySuccess({ deadLetterId, deliveryId }: { deadLetterId: number; deliveryId: string }) {
      await recordDeadLetterRetryOutcome(pool, deadLetterId, deliveryId, { success: true });
    },
  };
}
