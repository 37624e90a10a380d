import type { BatchRow } from '../db/batches.js';
import { toBatchUsage } from './request-usage.js';
import { unixSeconds } from '../shared/unix-time.js';

/** The webhook settings as users see them: never the secret, only whether there is one. */
export interface BatchWebhookView {
  url: string;
  events: string[];
  max_retries: number;
  timeout: number;
  has_secret: boolean;
}

/**
 * The OpenAI Batch object (with its `model` and `usage`), plus this service's
 * `webhook`, `retried_from`, `retries`, `paused_at` and `pause_reason` fields.
 */
export function toBatchObject(row: BatchRow) {
  const webhook: BatchWebhookView | null =
    row.webhook_url === null
      ? null
      : {
          url: row.webhook_url,
          events: row.webhook_events ?? [],
          max_retries: row.webhook_max_retries ?? 0,
          timeout: row.webhook_timeout ?? 0,
          has_secret: row.has_webhook_secret,
        };
  return {
    id: row.id,
    object: 'batch' as const,
    endpoint: row.endpoint,
    model: row.model,
    errors: row.errors === null ? null : { object: 'list' as const, data: row.errors },
    input_file_id: row.input_file_id,
    completion_window: row.completion_window,
    status: row.status,
    output_file_id: row.output_file_id,
    error_file_id: row.error_file_id,
    created_at: unixSeconds(row.created_at),
    in_progress_at: unixSeconds(row.in_progress_at),
    expires_at: unixSeconds(row.expires_at),
    finalizing_at: unixSeconds(row.finalizing_at),
    completed_at: unixSeconds(row.completed_at),
    failed_at: unixSeconds(row.failed_at),
    expired_at: unixSeconds(row.expired_at),
    cancelling_at: unixSeconds(row.cancelling_at),
    cancelled_at: unixSeconds(row.cancelled_at),
    request_counts: { total: row.total_count, completed: row.completed_count, failed: row.failed_count },
    metadata: row.metadata,
    usage: toBatchUsage(row.usage),
    webhook,
    /** The batch whose failed requests this one retries (`POST /v1/batches/{id}/retry_failed`). */
    retried_from: row.retried_from,
    /** The batches retrying this one's failed requests, oldest first. */
    retries: row.retries,
    /** While the batch waits for its upstream to answer again (`status` stays `in_progress`): since when, and why. */
    paused_at: row.status === 'in_progress' ? unixSeconds(row.paused_at) : null,
    pause_reason: row.status === 'in_progress' ? row.pause_reason : null,
  };
}

export type BatchObject = ReturnType<typeof toBatchObject>;
