import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { createActivities } from '../activities/index.js';
import type { WebhookAttemptLabel, WebhookTargetLabel, WorkerMetrics } from '../metrics/worker-metrics.js';
import { WEBHOOK_NOT_SENT, type DeliveryTarget, type OneTaskAttemptResult, type WebhookSendOutcome } from '../workflows/contracts.js';

type ActivityName = keyof ReturnType<typeof createActivities>;

/** What the observed activities are called with, as far as metrics need it. */
type DeliveryInput = { target?: DeliveryTarget; deadLetterId?: number } | undefined;

const targetOf = (input: DeliveryInput): WebhookTargetLabel => (input?.target?.kind === 'endpoint' ? 'endpoint' : 'batch_webhook');

const failureType = (err: unknown): string | undefined => (err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined);

/** What a thrown webhook attempt came to: cut short by the worker stopping, not sent at all, or broken. */
function thrownAttempt(err: unknown): WebhookAttemptLabel {
  if (err instanceof CancelledFailure) return 'interrupted';
  return failureType(err) === WEBHOOK_NOT_SENT ? 'not_sent' : 'error';
}

/** How each observed activity's result or failure becomes metrics; activities not named here pass untouched. */
function observers(metrics: WorkerMetrics): Partial<Record<ActivityName, { ok(input: DeliveryInput, result: unknown): void; failed(input: DeliveryInput, err: unknown): void }>> {
  return {
    sendWebhook: {
      ok(input, result) {
        const outcome = result as WebhookSendOutcome;
        metrics.webhookAttempt({ outcome: outcome.kind, target: targetOf(input), seconds: outcome.durationMs / 1000 });
      },
      failed: (input, err) => metrics.webhookAttempt({ outcome: thrownAttempt(err), target: targetOf(input) }),
    },
    // A whole attempt in one task: its outcome as sent (or read back, for an attempt already made); thrown only before the POST or mid-request.
    attemptWebhook: {
      ok(input, result) {
        const { outcome } = result as OneTaskAttemptResult;
        metrics.webhookAttempt({ outcome: outcome.kind, target: targetOf(input), ...('durationMs' in outcome ? { seconds: outcome.durationMs / 1000 } : {}) });
      },
      failed: (input, err) => metrics.webhookAttempt({ outcome: thrownAttempt(err), target: targetOf(input) }),
    },
    // Deliveries started before attempts were logged by the workflow: one attempt per activity attempt, thrown on failure.
    deliverWebhook: {
      ok: (input) => metrics.webhookAttempt({ outcome: 'delivered', target: targetOf(input) }),
      failed(input, err) {
        const type = failureType(err);
        const outcome = type === 'WebhookDeliveryFailed' ? 'failed' : type === 'WebhookTargetForbidden' ? 'forbidden' : thrownAttempt(err);
        metrics.webhookAttempt({ outcome, target: targetOf(input) });
      },
    },
    recordDeadLetter: {
      // With an entry id, it records a manual retry that failed again; without, a new entry.
      ok: (input) => (input?.deadLetterId === undefined ? metrics.deadLetterCreated(targetOf(input)) : metrics.deadLetterRetried('failed')),
      failed: () => undefined,
    },
    recordDeadLetterRetrySuccess: {
      ok: () => metrics.deadLetterRetried('delivered'),
      failed: () => undefined,
    },
  };
}

/**
 * Webhook and dead-letter metrics from the outside of the activities: the
 * activity's type and its result (or failure) say what happened, so the
 * activities themselves stay free of metrics. A retried bookkeeping activity
 * whose first run succeeded (its completion was lost) counts twice; that is rare.
 */
export function activityMetricsInterceptor(metrics: WorkerMetrics): ActivityInterceptorsFactory {
  const byType: Partial<Record<string, ReturnType<typeof observers>[ActivityName]>> = observers(metrics);
  return (ctx) => {
    const observer = byType[ctx.info.activityType];
    if (!observer) return {};
    return {
      inbound: {
        async execute(input, next) {
          const args = input.args[0] as DeliveryInput;
          let result: unknown;
          try {
            result = await next(input);
          } catch (err) {
            observer.failed(args, err);
            throw err;
          }
          observer.ok(args, result);
          return result;
        },
      },
    };
  };
}
