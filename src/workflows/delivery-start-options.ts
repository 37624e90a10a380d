import type { SearchAttributePair } from '@temporalio/common';
import { BATCH_ID_ATTRIBUTE, WEBHOOK_EVENT_TYPE_ATTRIBUTE } from './search-attributes.js';
import { deadLetterTargetOf, type WebhookDeliveryInput } from './contracts.js';

/**
 * What every delivery workflow is started with, whoever starts it (the batch
 * workflow, a bulk retry, the API): its id, its input, and what operators see
 * in the Web UI — the target URL in the memo, batch and event as search attributes.
 */
export function deliveryStartOptions(workflowId: string, webhookUrl: string, input: WebhookDeliveryInput) {
  const typedSearchAttributes: SearchAttributePair[] = [
    // An operational event about an endpoint belongs to no batch.
    ...(input.batchId ? [{ key: BATCH_ID_ATTRIBUTE, value: input.batchId }] : []),
    { key: WEBHOOK_EVENT_TYPE_ATTRIBUTE, value: input.event },
  ];
  return {
    workflowId,
    args: [input] as [WebhookDeliveryInput],
    memo: { webhookUrl, eventId: input.eventId, ...(input.target ? { target: deadLetterTargetOf(input.target) } : {}) },
    typedSearchAttributes,
  };
}
