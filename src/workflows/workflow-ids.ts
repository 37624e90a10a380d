import type { OperationalEventSubject } from './contracts.js';

/** Workflow ids are readable in the Web UI and derived from the batch id. */
export const batchWorkflowId = (batchId: string): string => `batch-${batchId}`;

export const webhookDeliveryWorkflowId = (batchId: string, event: string, seq: number): string =>
  `${batchWorkflowId(batchId)}/webhook/${event}-${seq}`;

/** A delivery of one event to one registered endpoint; beside the batch webhook's, never equal to it. */
export const endpointDeliveryWorkflowId = (batchId: string, endpointId: string, event: string, seq: number): string =>
  `${batchWorkflowId(batchId)}/endpoint/${endpointId}/${event}-${seq}`;

/** The workflow that sends one operational event, keyed on what it is about, so each is sent once. */
export const operationalEventWorkflowId = (subject: OperationalEventSubject): string =>
  subject.type === 'webhook.dead_lettered'
    ? `webhook-ops/dead-letter-${subject.deadLetterId}`
    : `webhook-ops/${subject.endpointId}/${subject.type.replace('webhook_endpoint.', '')}-${subject.changedAtMs}`;

/** A delivery of an operational event to one endpoint. */
export const operationalDeliveryWorkflowId = (eventId: string, endpointId: string): string => `webhook-ops/${eventId}/${endpointId}`;
