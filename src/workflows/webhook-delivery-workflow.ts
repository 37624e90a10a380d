import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

/** Global backoff settings; attempts and timeout come from the job. */
export interface WebhookRetrySettings {
  initialSeconds: number;
  backoff: number;
  maxIntervalSeconds: number;
}

export interface WebhookDeliveryInput {
  batchId: string;
  eventId: string;
  /** Lifecycle event name, e.g. `completed`. */
  event: string;
  /** Total attempts before the event goes to the dead-letter queue. */
  maxAttempts: number;
  /** Seconds per attempt: the HTTP timeout. */
  timeoutSeconds: number;
  retry: WebhookRetrySettings;
  /** Set when this delivery is a manual retry of a dead-letter entry. */
  deadLetterId?: number;
}

export type WebhookDeliveryResult =
  | { status: 'delivered'; attempts: number; statusCode: number }
  | { status: 'dead_lettered'; deadLetterId: number; attempts: number };

// Headroom so the HTTP timeout (exactly `timeoutSeconds`) fires first and the
// attempt is recorded before Temporal gives up on the activity.
const START_TO_CLOSE_MARGIN_SECONDS = 5;

/**
 * Delivers one event: the activity POSTs it under the job's retry policy;
 * when attempts run out the event is dead-lettered. The input carries ids and
 * settings only; the activity reads the URL's secret from Postgres.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const deliveryId = workflowInfo().workflowId;
  const { deliverWebhook } = proxyActivities<ReturnType<typeof createActivities>>({
    startToCloseTimeout: `${input.timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS}s`,
    retry: {
      maximumAttempts: input.maxAttempts,
      initialInterval: `${input.retry.initialSeconds}s`,
      backoffCoefficient: input.retry.backoff,
      maximumInterval: `${input.retry.maxIntervalSeconds}s`,
    },
  });
  const bookkeeping = proxyActivities<ReturnType<typeof createActivities>>({
    startToCloseTimeout: '30s',
    retry: { maximumInterval: '1m' },
  });

  try {
    const delivered = await deliverWebhook({ eventId: input.eventId, deliveryId, timeoutSeconds: input.timeoutSeconds });
    if (input.deadLetterId !== undefined) {
      await bookkeeping.recordDeadLetterRetrySuccess({ deadLetterId: input.deadLetterId, deliveryId });
    }
    return { status: 'delivered', attempts: delivered.attempt, statusCode: delivered.statusCode };
  } catch (err) {
    // Only a delivery that ran out of attempts is dead-lettered; anything else is a bug to surface.
    if (!(err instanceof ActivityFailure)) throw err;
    const entry = await bookkeeping.recordDeadLetter({
      eventId: input.eventId,
      deliveryId,
      deadLetterId: input.deadLetterId,
    });
    return { status: 'dead_lettered', deadLetterId: entry.deadLetterId, attempts: entry.attempts };
  }
}
