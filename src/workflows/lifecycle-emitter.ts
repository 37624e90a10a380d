import {
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities/index.js';
import { LIFECYCLE_EVENTS, type BatchPlan, type EventCounters, type LifecycleEvent, type WebhookDeliveryInput } from './contracts.js';
import { deliveryStartOptions } from './delivery-start-options.js';
import { webhookDeliveryWorkflow } from './webhook-delivery-workflow.js';
import { endpointDeliveryWorkflowId, webhookDeliveryWorkflowId } from './workflow-ids.js';

const { recordWebhookEvent, findSubscribedEndpoints } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30s',
  retry: { maximumInterval: '1m' },
});

// Batches that emitted events before this patch replay the batch-webhook-only path.
const FAN_OUT_PATCH = 'webhook-endpoint-fan-out';

/**
 * The one place where a lifecycle event leaves the batch workflow. A
 * subscribed event is frozen in Postgres (payload and id), then delivered to
 * each target (the batch's own webhook and every enabled endpoint of the
 * owner that subscribes) by its own child workflow, abandoned on parent
 * close: a slow or failing receiver never holds the batch up, and a delivery
 * outlives the batch.
 */
export async function emitLifecycleEvent(
  batchId: string,
  plan: BatchPlan,
  counters: EventCounters,
  event: LifecycleEvent,
): Promise<void> {
  if (LIFECYCLE_EVENTS[event].delivery !== 'subscribable') return;
  if (!patched(FAN_OUT_PATCH)) return emitToBatchWebhookOnly(batchId, plan, counters, event);

  const webhook = plan.webhook?.events.includes(event) ? plan.webhook : null;
  // Read when the event happens, so endpoints created (or disabled) during the batch count from then on.
  const endpoints = await findSubscribedEndpoints({ batchId, event });
  if (!webhook && endpoints.length === 0) return;
  const seq = (counters[event] ?? 0) + 1;
  counters[event] = seq;
  const { eventId } = await recordWebhookEvent({ batchId, event, seq });
  const base = { batchId, eventId, event, retry: plan.webhookRetry };

  const deliveries: { workflowId: string; url: string; input: WebhookDeliveryInput }[] = [];
  if (webhook) {
    deliveries.push({
      workflowId: webhookDeliveryWorkflowId(batchId, event, seq),
      url: webhook.url,
      input: { ...base, maxAttempts: webhook.maxAttempts, timeoutSeconds: webhook.timeoutSeconds, target: { kind: 'batch_webhook' } },
    });
  }
  for (const endpoint of endpoints) {
    deliveries.push({
      workflowId: endpointDeliveryWorkflowId(batchId, endpoint.id, event, seq),
      url: endpoint.url,
      input: { ...base, maxAttempts: endpoint.maxAttempts, timeoutSeconds: endpoint.timeoutSeconds, target: { kind: 'endpoint', endpointId: endpoint.id } },
    });
  }
  await Promise.all(deliveries.map(({ workflowId, url, input }) => startDelivery(workflowId, url, input)));
}

/** What batches did before endpoints existed; kept for their replays. */
async function emitToBatchWebhookOnly(batchId: string, plan: BatchPlan, counters: EventCounters, event: LifecycleEvent): Promise<void> {
  const webhook = plan.webhook;
  if (!webhook || !webhook.events.includes(event)) return;
  const seq = (counters[event] ?? 0) + 1;
  counters[event] = seq;
  const { eventId } = await recordWebhookEvent({ batchId, event, seq });
  const input = {
    batchId,
    eventId,
    event,
    maxAttempts: webhook.maxAttempts,
    timeoutSeconds: webhook.timeoutSeconds,
    retry: plan.webhookRetry,
  };
  await startDelivery(webhookDeliveryWorkflowId(batchId, event, seq), webhook.url, input);
}

async function startDelivery(workflowId: string, url: string, input: WebhookDeliveryInput): Promise<void> {
  try {
    await startChild(webhookDeliveryWorkflow, {
      ...deliveryStartOptions(workflowId, url, input),
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (err) {
    // Already started by an earlier run of this workflow: the delivery is under way.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
