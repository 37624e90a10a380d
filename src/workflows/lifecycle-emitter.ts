import { patched, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { LIFECYCLE_EVENTS, type BatchPlan, type EndpointPlan, type EventCounters, type LifecycleEvent, type WebhookDeliveryInput } from './contracts.js';
import { startDelivery } from './start-delivery.js';
import { endpointDeliveryWorkflowId, webhookDeliveryWorkflowId } from './workflow-ids.js';

const { recordWebhookEvent, findSubscribedEndpoints, recordLifecycleEvent } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30s',
  retry: { maximumInterval: '1m' },
});

// Batches that emitted events before this patch replay the batch-webhook-only path.
const FAN_OUT_PATCH = 'webhook-endpoint-fan-out';
// Before this patch an event took two activities (find endpoints, then freeze) and a disabled endpoint missed it.
const RECORDED_WITH_TARGETS_PATCH = 'webhook-event-recorded-with-targets';

/**
 * The one place where a lifecycle event leaves the batch workflow. A
 * subscribed event is frozen in Postgres (payload and id) together with its
 * targets, then delivered to each (the batch's own webhook and every enabled
 * endpoint of the owner that subscribes) by its own child workflow: a slow or
 * failing receiver never holds the batch up, and a delivery outlives the
 * batch. A disabled endpoint that subscribes keeps the event for its recovery.
 */
export async function emitLifecycleEvent(
  batchId: string,
  plan: BatchPlan,
  counters: EventCounters,
  event: LifecycleEvent,
): Promise<void> {
  if (LIFECYCLE_EVENTS[event].delivery !== 'subscribable') return;
  if (!patched(FAN_OUT_PATCH)) return emitToBatchWebhookOnly(batchId, plan, counters, event);
  if (!patched(RECORDED_WITH_TARGETS_PATCH)) return emitWithSeparateLookup(batchId, plan, counters, event);

  const webhook = plan.webhook?.events.includes(event) ? plan.webhook : null;
  const seq = (counters[event] ?? 0) + 1;
  // Targets are read when the event happens, so endpoints created (or disabled) during the batch count from then on.
  const recorded = await recordLifecycleEvent({ batchId, event, seq, batchWebhook: webhook !== null });
  if (!recorded) return;
  counters[event] = seq;
  await deliverToTargets(batchId, plan, event, seq, recorded.eventId, recorded.endpoints);
}

/** What batches did between the endpoint fan-out and recording targets with the event; kept for their replays. */
async function emitWithSeparateLookup(batchId: string, plan: BatchPlan, counters: EventCounters, event: LifecycleEvent): Promise<void> {
  const webhook = plan.webhook?.events.includes(event) ? plan.webhook : null;
  const endpoints = await findSubscribedEndpoints({ batchId, event });
  if (!webhook && endpoints.length === 0) return;
  const seq = (counters[event] ?? 0) + 1;
  counters[event] = seq;
  const { eventId } = await recordWebhookEvent({ batchId, event, seq });
  await deliverToTargets(batchId, plan, event, seq, eventId, endpoints);
}

/** One child delivery per target of a frozen event; targets do not wait on each other. */
async function deliverToTargets(batchId: string, plan: BatchPlan, event: LifecycleEvent, seq: number, eventId: string, endpoints: EndpointPlan[]): Promise<void> {
  const webhook = plan.webhook?.events.includes(event) ? plan.webhook : null;
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
