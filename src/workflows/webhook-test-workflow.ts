import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { WebhookAttemptOutcome, WebhookTestInput, WebhookTestResult } from './contracts.js';

type Activities = ReturnType<typeof createActivities>;

// Headroom so the HTTP timeout fires before Temporal gives up on the POST (as in webhookDeliveryWorkflow).
const START_TO_CLOSE_MARGIN_SECONDS = 5;
const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

/**
 * Sends a test event to an endpoint once: the attempt is logged and signed
 * like any delivery, but it is never retried nor dead-lettered, and belongs
 * to no batch. The outcome is the result, for the API to answer with.
 */
export async function webhookTestWorkflow(input: WebhookTestInput): Promise<WebhookTestResult> {
  const deliveryId = workflowInfo().workflowId;
  const target = { kind: 'endpoint' as const, endpointId: input.endpointId };
  const ids = { eventId: input.eventId, deliveryId, attempt: 1, target };
  const { sendWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: `${input.timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS}s`,
    retry: { maximumAttempts: 1 },
  });
  try {
    await bookkeeping.prepareWebhookAttempt(ids);
  } catch (err) {
    if (err instanceof ActivityFailure) return { status: 'not_sent', error: err.cause?.message ?? 'not sent', statusCode: null };
    throw err;
  }
  let outcome: WebhookAttemptOutcome;
  try {
    outcome = await sendWebhook({ ...ids, timeoutSeconds: input.timeoutSeconds });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    outcome = { kind: 'interrupted' };
  }
  await bookkeeping.recordWebhookAttemptOutcome({ deliveryId, attempt: 1, outcome, target });
  if (outcome.kind === 'delivered') return { status: 'delivered', statusCode: outcome.statusCode, error: null };
  if (outcome.kind === 'interrupted') return { status: 'failed', statusCode: null, error: 'interrupted' };
  return { status: 'failed', statusCode: outcome.statusCode, error: outcome.error };
}
