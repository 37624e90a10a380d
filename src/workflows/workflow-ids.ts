/** Workflow ids are readable in the Web UI and derived from the batch id. */
export const batchWorkflowId = (batchId: string): string => `batch-${batchId}`;

export const webhookDeliveryWorkflowId = (batchId: string, event: string, seq: number): string =>
  `${batchWorkflowId(batchId)}/webhook/${event}-${seq}`;

/** A delivery of one event to one registered endpoint; beside the batch webhook's, never equal to it. */
export const endpointDeliveryWorkflowId = (batchId: string, endpointId: string, event: string, seq: number): string =>
  `${batchWorkflowId(batchId)}/endpoint/${endpointId}/${event}-${seq}`;
