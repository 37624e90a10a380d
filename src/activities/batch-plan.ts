import type { LifecycleEvent } from '../batches/lifecycle-events.js';
import type { WebhookRetrySettings } from '../workflows/webhook-delivery-workflow.js';

/** What the batch workflow needs to know to run a batch: no secrets. */
export interface BatchPlan {
  endpoint: string;
  /** The completion window; the workflow times it on its own (server) clock. */
  completionWindowMs: number;
  tuning: {
    chunkSize: number;
    chunkConcurrency: number;
    progressIntervalSeconds: number;
    continueAsNewEvents: number;
  };
  webhook: { url: string; events: LifecycleEvent[]; maxAttempts: number; timeoutSeconds: number } | null;
  webhookRetry: WebhookRetrySettings;
}

/** Failure type of a step that Postgres refused because of the batch's data: retrying cannot help. */
export const BATCH_DATA_ERROR = 'BatchDataError';
