import { Context } from '@temporalio/activity';
import type { Config } from '../config.js';
import {
  deleteExpiredFiles,
  deleteFinishedBatchRequests,
  deleteOldDeliveryAttempts,
  deleteOldWebhookEvents,
  deleteResolvedDeadLetters,
  type DeletedRound,
} from '../db/retention.js';
import { webhookRetrySettings } from '../webhooks/retry-settings.js';
import type { ActivityDeps } from './activity-deps.js';

/** What one clean-up activity call did: rows deleted, and whether it stopped with more to do. */
export interface RetentionStepResult {
  deleted: number;
  more: boolean;
}

/** Rounds (one bounded statement or two each) one activity call runs before it hands back to the workflow. */
const MAX_ROUNDS_PER_CALL = 20;
/** And at most this long, so a call stays well inside its start-to-close timeout. */
const CALL_BUDGET_MS = 30_000;
/** Slack beyond the longest retry wait: an attempt's own timeout, a pause while Postgres was away. */
const QUIET_MARGIN_SECONDS = 3_600;

/**
 * The longest a delivery can be between two attempts: the longest wait of the
 * retry schedule plus its jitter, or the backoff's cap, plus a margin. A
 * delivery with no attempt for this long has ended.
 */
export function longestAttemptGapSeconds(webhook: Config['webhook']): number {
  const retry = webhookRetrySettings(webhook);
  const longest = retry.scheduleSeconds ? Math.max(...retry.scheduleSeconds) * (1 + (retry.jitter ?? 0)) : retry.maxIntervalSeconds;
  return Math.ceil(longest) + QUIET_MARGIN_SECONDS;
}

/**
 * The retention clean-up (docs/RETENTION.md), one activity per kind of data,
 * each deleting in bounded rounds and heartbeating between them. Retention
 * periods come from the worker's config, so the workflow's input stays empty.
 */
export function createRetentionActivities({ pool, config, log }: ActivityDeps) {
  const { retention } = config;

  async function inRounds(what: string, round: () => Promise<DeletedRound>): Promise<RetentionStepResult> {
    const started = Date.now();
    let deleted = 0;
    for (let i = 0; i < MAX_ROUNDS_PER_CALL; i++) {
      const result = await round();
      deleted += result.deleted;
      Context.current().heartbeat({ deleted });
      if (!result.more) {
        if (deleted > 0) log.info({ what, deleted }, 'retention clean-up deleted rows');
        return { deleted, more: false };
      }
      if (Date.now() - started > CALL_BUDGET_MS) break;
    }
    log.info({ what, deleted }, 'retention clean-up deleted rows; more to do');
    return { deleted, more: true };
  }

  const kept = async (): Promise<RetentionStepResult> => ({ deleted: 0, more: false });

  return {
    /** Expired files: their content, then their rows. */
    deleteExpiredFiles: (): Promise<RetentionStepResult> =>
      inRounds('expired files', () => deleteExpiredFiles(pool, retention.deleteBatchSize)),

    /** Per-request rows of batches finished longer ago than RETENTION_BATCH_REQUESTS. */
    deleteFinishedBatchRequests: (): Promise<RetentionStepResult> =>
      retention.batchRequestsSeconds === 0
        ? kept()
        : inRounds('batch requests', () => deleteFinishedBatchRequests(pool, retention.batchRequestsSeconds, retention.deleteBatchSize)),

    /** Attempts of deliveries that ended longer ago than RETENTION_WEBHOOK_ATTEMPTS. */
    deleteOldWebhookAttempts: (): Promise<RetentionStepResult> =>
      retention.webhookAttemptsSeconds === 0
        ? kept()
        : inRounds('webhook delivery attempts', () =>
            deleteOldDeliveryAttempts(pool, retention.webhookAttemptsSeconds, longestAttemptGapSeconds(config.webhook), retention.deleteBatchSize),
          ),

    /** Events older than RETENTION_WEBHOOK_EVENTS whose deliveries are over and whose attempts are gone. */
    deleteOldWebhookEvents: (): Promise<RetentionStepResult> =>
      retention.webhookEventsSeconds === 0
        ? kept()
        : inRounds('webhook events', () => deleteOldWebhookEvents(pool, retention.webhookEventsSeconds, retention.deleteBatchSize)),

    /** Dead-letter entries a retry delivered longer ago than RETENTION_RESOLVED_DEAD_LETTERS. */
    deleteResolvedDeadLetters: (): Promise<RetentionStepResult> =>
      retention.resolvedDeadLettersSeconds === 0
        ? kept()
        : inRounds('resolved dead letters', () => deleteResolvedDeadLetters(pool, retention.resolvedDeadLettersSeconds, retention.deleteBatchSize)),
  };
}
