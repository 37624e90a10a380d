import { findWebhookEndpoint } from '../db/webhook-endpoints.js';
import { insertEventWithoutBatch } from '../db/webhook-events.js';
import { newId } from '../shared/ids.js';
import { TEST_EVENT_TYPE, type WebhookTestResult } from '../workflows/contracts.js';
import { webhookTestWorkflow } from '../workflows/webhook-test-workflow.js';
import type { ServiceDeps } from './service-deps.js';
import { ServiceError } from './service-error.js';

// Beyond the endpoint's own HTTP timeout: time for the attempt's bookkeeping.
const ANSWER_MARGIN_MS = 15_000;

/**
 * Sends a signed `webhook.test` event to the endpoint through webhookTestWorkflow
 * (one attempt, logged like any other, counted against no batch) and waits for
 * its outcome. A disabled endpoint is not sent to: the answer is `not_sent`.
 */
export async function sendTestEvent(deps: ServiceDeps, owner: string, id: string) {
  const endpoint = await findWebhookEndpoint(deps.pool, owner, id);
  if (!endpoint) throw ServiceError.notFound('webhook endpoint', id);
  const eventId = newId('evt');
  const payload = JSON.stringify({ id: eventId, object: 'event', type: TEST_EVENT_TYPE, created_at: Math.floor(Date.now() / 1000), data: { endpoint_id: id } });
  await insertEventWithoutBatch(deps.pool, { id: eventId, owner, type: TEST_EVENT_TYPE, payload });
  const deliveryId = `endpoint-test/${id}/${eventId}`;
  let result: WebhookTestResult;
  try {
    result = await deps.temporal.connection.withDeadline(Date.now() + endpoint.timeout * 1000 + ANSWER_MARGIN_MS, () =>
      deps.temporal.workflow.execute(webhookTestWorkflow, {
        workflowId: deliveryId,
        taskQueue: deps.config.temporal.taskQueue,
        args: [{ eventId, endpointId: id, timeoutSeconds: endpoint.timeout }],
      }),
    );
  } catch (err) {
    deps.log.error({ endpointId: id, eventId, err: (err as Error).message }, 'test event: no outcome');
    throw new ServiceError('unavailable', 'The test event could not be sent right now; try again.', 'temporal_unavailable');
  }
  deps.log.info({ endpointId: id, owner, eventId, status: result.status }, 'webhook endpoint test event sent');
  return { object: 'webhook_endpoint.test' as const, endpoint_id: id, event_id: eventId, delivery_id: deliveryId, status: result.status, status_code: result.statusCode, error: result.error };
}
