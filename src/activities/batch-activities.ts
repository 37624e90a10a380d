import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isBatchEndpoint } from '../batches/batch-endpoints.js';
import { BATCH_DATA_ERROR, type BatchErrorItem, type BatchPlan, type LifecycleEvent } from '../workflows/contracts.js';
import { findBatchById, isPostgresDataError, markFailed } from '../db/batches.js';
import type { ActivityDeps } from './activity-deps.js';
import { finalizeBatchFiles } from './finalize-batch.js';
import { processRequestRange, type ProcessRequestRangeInput } from './process-request-range.js';
import { storeRemainingRequests } from './store-remaining-requests.js';
import { validateBatchInput, type ValidateBatchInput } from './validate-batch-input.js';
import { webhookRetrySettings } from '../webhooks/retry-settings.js';

/** Turns a failure that would repeat on every attempt into a non-retryable one; leaves the rest to retry. */
export function classifyActivityFailure(err: unknown): unknown {
  if (!isPostgresDataError(err)) return err;
  return ApplicationFailure.create({
    type: BATCH_DATA_ERROR,
    message: `${err.message} (SQLSTATE ${err.code})`,
    nonRetryable: true,
    cause: err,
  });
}

const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Runs a step with its failures classified. `heartbeat`: beats every few
 * seconds while the step runs (even while it waits on Postgres), so a dead
 * worker's attempt is retried within the heartbeat timeout, not the start-to-close one.
 */
export async function asBatchStep<T>(fn: () => Promise<T>, { heartbeat = false } = {}): Promise<T> {
  const timer = heartbeat ? setInterval(() => Context.current().heartbeat(), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await fn();
  } catch (err) {
    throw classifyActivityFailure(err);
  } finally {
    clearInterval(timer);
  }
}

export function createBatchActivities(deps: ActivityDeps) {
  const { pool, config } = deps;
  return {
    /**
     * Everything the workflow needs to drive the batch, without secrets; null
     * while the batch row does not exist (not committed yet, or never will be).
     */
    loadBatchPlan: ({ batchId }: { batchId: string }): Promise<BatchPlan | null> =>
      asBatchStep(async () => {
        const batch = await findBatchById(pool, batchId);
        if (!batch) return null;
        if (!isBatchEndpoint(batch.endpoint)) {
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
          webhookRetry: webhookRetrySettings(config.webhook),
        };
      }),

    validateBatchInput: (input: ValidateBatchInput) =>
      asBatchStep(() => validateBatchInput(deps, input), { heartbeat: true }),

    storeRemainingRequests: (input: { batchId: string; fromLine: number }) =>
      asBatchStep(() => storeRemainingRequests(deps, input), { heartbeat: true }),

    // Heartbeats on its own, with its progress.
    processRequestRange: (input: ProcessRequestRangeInput) =>
      asBatchStep(() => processRequestRange(deps, input)),

    finalizeBatch: (input: { batchId: string; status: 'completed' | 'cancelled' | 'expired' }) =>
      asBatchStep(() => finalizeBatchFiles(deps, input), { heartbeat: true }),

    failBatch: ({ batchId, error }: { batchId: string; error: BatchErrorItem }): Promise<void> =>
      asBatchStep(() => markFailed(pool, batchId, [error])),
  };
}
