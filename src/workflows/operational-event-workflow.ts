import { ParentClosePolicy, proxyActivities, startChild, uuid4 } from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities/index.js';
import type { OperationalEventInput } from './contracts.js';
import { BATCH_ID_ATTRIBUTE, WEBHOOK_EVENT_TYPE_ATTRIBUTE } from './search-attributes.js';
import { startDelivery } from './start-delivery.js';
import { operationalDeliveryWorkflowId, operationalEventWorkflowId } from './workflow-ids.js';

const { recordOperationalEvent } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30s',
  retry: { maximumInterval: '1m' },
});

/**
 * Tells an owner about their webhooks: freezes one operational event
 * (`webhook.dead_lettered`, `webhook_endpoint.disabled`, `webhook_endpoint.enabled`)
 * and delivers it to each of the owner's enabled endpoints that subscribe,
 * each by its own delivery workflow with retries and a dead-letter entry, as
 * lifecycle events are. The event id comes from the workflow, so a retried
 * activity freezes one event.
 */
export async function operationalEventWorkflow(input: OperationalEventInput): Promise<{ eventId: string | null; deliveries: number }> {
  const eventId = `evt_${uuid4().replaceAll('-', '')}`;
  const recorded = await recordOperationalEvent({ eventId, owner: input.owner, subject: input.subject });
  if (!recorded) return { eventId: null, deliveries: 0 };
  await Promise.all(
    recorded.endpoints.map((endpoint) =>
      startDelivery(operationalDeliveryWorkflowId(eventId, endpoint.id), endpoint.url, {
        batchId: recorded.batchId ?? '',
        eventId,
        event: input.subject.type,
        maxAttempts: endpoint.maxAttempts,
        timeoutSeconds: endpoint.timeoutSeconds,
        retry: input.retry,
        target: { kind: 'endpoint', endpointId: endpoint.id },
      }),
    ),
  );
  return { eventId, deliveries: recorded.endpoints.length };
}

/** How every operational event workflow is started, by a workflow or the API: once per subject, findable in the Web UI. */
export function operationalEventStartOptions(input: OperationalEventInput, batchId?: string) {
  const typedSearchAttributes: SearchAttributePair[] = [
    ...(batchId ? [{ key: BATCH_ID_ATTRIBUTE, value: batchId }] : []),
    { key: WEBHOOK_EVENT_TYPE_ATTRIBUTE, value: input.subject.type },
  ];
  return { workflowId: operationalEventWorkflowId(input.subject), args: [input] as [OperationalEventInput], typedSearchAttributes };
}

/** Starts an operational event as a child, abandoned on parent close; a repeat finds it under way. */
export async function startOperationalEvent(input: OperationalEventInput, batchId?: string): Promise<void> {
  try {
    await startChild(operationalEventWorkflow, { ...operationalEventStartOptions(input, batchId), parentClosePolicy: ParentClosePolicy.ABANDON });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
