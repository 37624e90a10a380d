import { ParentClosePolicy, sleep, startChild } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { deliveryStartOptions } from './delivery-start-options.js';
import type { DeadLetterBulkRetryInput } from './contracts.js';
import { webhookDeliveryWorkflow } from './webhook-delivery-workflow.js';

/**
 * Starts the deliveries of a bulk dead-letter retry at a bounded rate, so that
 * recovering a receiver's outage does not knock it over again.
 */
export async function deadLetterBulkRetryWorkflow(input: DeadLetterBulkRetryInput): Promise<{ started: number }> {
  const gapMs = Math.ceil(1000 / input.perSecond);
  let started = 0;
  for (const [i, delivery] of input.deliveries.entries()) {
    if (i > 0) await sleep(gapMs);
    try {
      await startChild(webhookDeliveryWorkflow, {
        ...deliveryStartOptions(delivery.workflowId, delivery.webhookUrl, delivery.input),
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      started += 1;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return { started };
}
