import { ApplicationFailure, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

type Activities = ReturnType<typeof createActivities>;

/**
 * Each call deletes in bounded rounds for at most ~30 s. A failing call is
 * retried a few times, then this run reports the step as failed and goes on;
 * the schedule's next run tries again (an endless retry would hold the
 * schedule, whose overlap policy skips runs while one is open).
 */
const cleanup = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** The steps in the order they run: attempts before events, since an event goes only once its attempts are gone. */
const STEPS = [
  ['files', cleanup.deleteExpiredFiles],
  ['batchRequests', cleanup.deleteFinishedBatchRequests],
  ['webhookAttempts', cleanup.deleteOldWebhookAttempts],
  ['webhookEvents', cleanup.deleteOldWebhookEvents],
  ['resolvedDeadLetters', cleanup.deleteResolvedDeadLetters],
] as const;

export type RetentionStep = (typeof STEPS)[number][0];

/** Calls per step in one run: keeps the history short; what is left waits for the next run. */
export const MAX_CALLS_PER_STEP = 50;

export interface RetentionCleanupResult {
  /** Rows deleted per step (files: expired files removed). */
  deleted: Record<RetentionStep, number>;
  /** Steps that stopped at MAX_CALLS_PER_STEP with more to delete. */
  unfinished: RetentionStep[];
}

/**
 * One run of the retention clean-up (docs/RETENTION.md), started by the
 * `retention-cleanup` Temporal Schedule: deletes expired files and data past
 * its retention, each kind through its own activity. What to keep is decided
 * by the activities from the worker's config, so the input is empty.
 */
export async function retentionCleanupWorkflow(): Promise<RetentionCleanupResult> {
  const deleted = { files: 0, batchRequests: 0, webhookAttempts: 0, webhookEvents: 0, resolvedDeadLetters: 0 };
  const unfinished: RetentionStep[] = [];
  const failed: RetentionStep[] = [];
  for (const [step, run] of STEPS) {
    try {
      let more = true;
      for (let call = 0; more && call < MAX_CALLS_PER_STEP; call++) {
        const result = await run();
        deleted[step] += result.deleted;
        more = result.more;
      }
      if (more) unfinished.push(step);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.error('retention clean-up step failed', { step, error: (err as Error).message });
      failed.push(step);
    }
  }
  if (failed.length > 0) {
    throw ApplicationFailure.create({
      type: 'RetentionCleanupFailed',
      message: `retention clean-up steps failed: ${failed.join(', ')}`,
      details: [{ deleted, unfinished }],
      nonRetryable: true,
    });
  }
  return { deleted, unfinished };
}
