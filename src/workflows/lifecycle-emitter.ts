import {
  ParentClosePolicy,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities/index.js';
import type { BatchPlan, EventCounters, LifecycleEvent } from './contracts.js';
import { deliveryStartOptions } from './delivery-start-options.js';
import { webhookDeliveryWorkflow } from './webhook-delivery-workflow.js';
import { webhookDeliveryWorkflowId } from './workflow-ids.js';

const { recordWebhookEvent } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30s',
  retry: { maximumInterval: '1m' },
});

/**
 * The one place where a lifecycle event leaves the batch workflow. A
 * subscribed event is frozen in Postgres (payload and id), then delivered by
 * a child workflow that is abandoned on parent close: a slow or failing
 * receiver never holds the batch up, and a delivery outlives the batch.
 */
export async function emitLifecycleEvent(
  batchId: string,
  plan: BatchPlan,
  counters: EventCounters,
  event: LifecycleEvent,
): Promise<void> {
  const webhook = plan.webhook;
  if (!webhook || !webhook.events.includes(event)) return;
  const seq = (counters[event] ?? 0) + 1;
  counters[event] = seq;
  const { eventId } = await recordWebhookEvent({ batchId, event, seq });
  try {
    const input = {
      batchId,
      eventId,
      event,
      maxAttempts: webhook.maxAttempts,
      timeoutSeconds: webhook.timeoutSeconds,
      retry: plan.webhookRetry,
    };
    await startChild(webhookDeliveryWorkflow, {
      ...deliveryStartOptions(webhookDeliveryWorkflowId(batchId, event, seq), webhook.url, input),
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (err) {
    // Already started by an earlier run of this workflow: the delivery is under way.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
