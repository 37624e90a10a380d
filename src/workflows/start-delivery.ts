import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { WebhookDeliveryInput } from './contracts.js';
import { deliveryStartOptions } from './delivery-start-options.js';
import { webhookDeliveryWorkflow } from './webhook-delivery-workflow.js';

/**
 * Starts one delivery as a child workflow, abandoned on parent close: a slow
 * or failing receiver never holds its parent up, and a delivery outlives it.
 */
export async function startDelivery(workflowId: string, url: string, input: WebhookDeliveryInput): Promise<void> {
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
