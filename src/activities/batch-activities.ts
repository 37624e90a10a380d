import { ApplicationFailure } from '@temporalio/common';
import { SUPPORTED_ENDPOINTS } from '../batches/input-lines.js';
import type { LifecycleEvent } from '../batches/lifecycle-events.js';
import { findBatchById, markFailed } from '../db/batches.js';
import type { ActivityDeps } from './activity-deps.js';
import type { BatchPlan } from './batch-plan.js';
import { finalizeBatchFiles } from './finalize-batch.js';
import { processRequestRange } from './process-request-range.js';
import { validateBatchInput } from './validate-batch-input.js';

export function createBatchActivities(deps: ActivityDeps) {
  const { pool, config } = deps;
  return {
    /** Everything the workflow needs to drive the batch, without secrets. */
    async loadBatchPlan({ batchId }: { batchId: string }): Promise<BatchPlan> {
      const batch = await findBatchById(pool, batchId);
      if (!batch) throw ApplicationFailure.create({ type: 'BatchNotFound', message: `batch ${batchId} not found`, nonRetryable: true });
      if (!(SUPPORTED_ENDPOINTS as readonly string[]).includes(batch.endpoint)) {
        throw ApplicationFailure.create({ type: 'UnsupportedEndpoint', message: batch.endpoint, nonRetryable: true });
      }
      return {
        endpoint: batch.endpoint,
        completionWindowMs: batch.expires_at.getTime() - batch.created_at.getTime(),
        tuning: { ...config.batch },
        webhook:
          batch.webhook_url === null
            ? null
            : {
                url: batch.webhook_url,
                events: (batch.webhook_events ?? []) as LifecycleEvent[],
                maxAttempts: batch.webhook_max_retries ?? config.webhook.defaultMaxRetries,
                timeoutSeconds: batch.webhook_timeout ?? config.webhook.defaultTimeoutSeconds,
              },
        webhookRetry: {
          initialSeconds: config.webhook.retryInitialSeconds,
          backoff: config.webhook.retryBackoff,
          maxIntervalSeconds: config.webhook.retryMaxIntervalSeconds,
        },
      };
    },

    validateBatchInput: (input: { batchId: string }) => validateBatchInput(deps, input),

    processRequestRange: (input: { batchId: string; endpoint: string; fromLine: number; toLine: number }) =>
      processRequestRange(deps, input),

    finalizeBatch: (input: { batchId: string; status: 'completed' | 'cancelled' | 'expired' }) =>
      finalizeBatchFiles(deps, input),

    async failBatch({ batchId, message }: { batchId: string; message: string }): Promise<void> {
      await markFailed(pool, batchId, [{ code: 'internal_error', message, param: null, line: null }]);
    },
  };
}
