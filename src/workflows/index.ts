export { batchWorkflow } from './batch-workflow.js';
export { webhookDeliveryWorkflow } from './webhook-delivery-workflow.js';
export { deadLetterBulkRetryWorkflow } from './dead-letter-bulk-retry-workflow.js';
export { webhookTestWorkflow } from './webhook-test-workflow.js';
export { operationalEventWorkflow } from './operational-event-workflow.js';
export { retentionCleanupWorkflow } from './retention-cleanup-workflow.js';
