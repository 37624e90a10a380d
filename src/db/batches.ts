import { NO_USAGE, type RequestUsage } from '../batches/request-usage.js';
import type { BatchErrorItem, FinalStatus } from '../workflows/contracts.js';
import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

// Status timestamps use clock_timestamp(): now() would stamp the start of a long transaction.

// SQLSTATE classes 22 (data exception) and 23 (integrity violation) fail the same way every
// time; everything else (connections, timeouts, deadlocks, shutdowns) may pass on another attempt.
const DATA_ERROR_CLASSES = new Set(['22', '23']);

/** Whether Postgres refused a statement because of the data in it, so that repeating it cannot help. */
export function isPostgresDataError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && DATA_ERROR_CLASSES.has(code.slice(0, 2));
}

export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export interface BatchRow {
  id: string;
  owner: string;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  errors: BatchErrorItem[] | null;
  metadata: Record<string, string> | null;
  total_count: number;
  completed_count: number;
  failed_count: number;
  created_at: Date;
  in_progress_at: Date | null;
  expires_at: Date;
  finalizing_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  expired_at: Date | null;
  cancelling_at: Date | null;
  cancelled_at: Date | null;
  idempotency_key: string | null;
  request_fingerprint: string | null;
  webhook_url: string | null;
  webhook_max_retries: number | null;
  webhook_timeout: number | null;
  webhook_events: string[] | null;
  has_webhook_secret: boolean;
  /** `output_expires_after.seconds`: the output and error files expire this long after they are written. */
  output_expires_after_seconds: number | null;
  /** The input file's one model; null until validation passed. */
  model: string | null;
  /** Token usage of the requests finished so far (final once the batch is). */
  usage: RequestUsage;
  /** The batch whose failed requests this one retries. */
  retried_from: string | null;
  /** The batches that retry this one's failed requests, oldest first. */
  retries: string[];
  /** Since when the batch waits for its upstream to answer again; null while it runs. */
  paused_at: Date | null;
  pause_reason: string | null;
}

// The secret itself is never selected here; only whether there is one. Usage comes as one
// jsonb object, whose numbers pg parses as numbers (bigint columns would arrive as text).
export const BATCH_COLUMNS = `id, owner, endpoint, input_file_id, completion_window, status, output_file_id,
  error_file_id, errors, metadata, total_count, completed_count, failed_count, created_at, in_progress_at,
  expires_at, finalizing_at, completed_at, failed_at, expired_at, cancelling_at, cancelled_at,
  idempotency_key, request_fingerprint, webhook_url, webhook_max_retries, webhook_timeout, webhook_events,
  webhook_secret IS NOT NULL AS has_webhook_secret, output_expires_after_seconds, model,
  jsonb_build_object('inputTokens', usage_input_tokens, 'outputTokens', usage_output_tokens,
    'totalTokens', usage_total_tokens, 'cachedTokens', usage_cached_tokens,
    'reasoningTokens', usage_reasoning_tokens) AS usage,
  retried_from, paused_at, pause_reason,
  ARRAY(SELECT r.id FROM batches r WHERE r.retried_from = batches.id ORDER BY r.created_at, r.id) AS retries`;

export interface NewBatch {
  id: string;
  owner: string;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  expiresAt: Date;
  metadata: Record<string, string> | null;
  idempotencyKey: string | null;
  requestFingerprint: string;
  webhook: { url: string; secret: string | null; maxRetries: number; timeout: number; events: string[] } | null;
  outputExpiresAfterSeconds?: number | null;
}

/** Inserts a batch; returns undefined when the owner already used this idempotency key. */
export async function insertBatch(db: Queryable, b: NewBatch): Promise<BatchRow | undefined> {
  const { rows } = await db.query<BatchRow>(
    `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, metadata, expires_at,
        idempotency_key, request_fingerprint, webhook_url, webhook_secret, webhook_max_retries, webhook_timeout,
        webhook_events, output_expires_after_seconds)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, 'validating', $6::jsonb, $7::timestamptz,
        $8::text, $9::text, $10::text, $11::text, $12::int, $13::int, $14::text[], $15::int)
     ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${BATCH_COLUMNS}`,
    [
      b.id,
      b.owner,
      b.endpoint,
      b.inputFileId,
      b.completionWindow,
      b.metadata === null ? null : JSON.stringify(b.metadata),
      b.expiresAt,
      b.idempotencyKey,
      b.requestFingerprint,
      b.webhook?.url ?? null,
      b.webhook?.secret ?? null,
      b.webhook?.maxRetries ?? null,
      b.webhook?.timeout ?? null,
      b.webhook?.events ?? null,
      b.outputExpiresAfterSeconds ?? null,
    ],
  );
  return rows[0];
}

export async function findBatch(db: Queryable, owner: string, id: string): Promise<BatchRow | undefined> {
  const { rows } = await db.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1::text AND owner = $2::text`,
    [id, owner],
  );
  return rows[0];
}

/** For workers, which act on behalf of whoever owns the batch. */
export async function findBatchById(db: Queryable, id: string): Promise<BatchRow | undefined> {
  const { rows } = await db.query<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1::text`, [id]);
  return rows[0];
}

export async function findBatchByIdempotencyKey(
  db: Queryable,
  owner: string,
  key: string,
): Promise<BatchRow | undefined> {
  const { rows } = await db.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM batches WHERE owner = $1::text AND idempotency_key = $2::text`,
    [owner, key],
  );
  return rows[0];
}

export async function listBatches(
  db: Queryable,
  owner: string,
  opts: { limit: number; after?: string },
): Promise<BatchRow[]> {
  const { rows } = await db.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM batches
      WHERE owner = $1::text
        AND ($2::text IS NULL OR (created_at, id) <
             (SELECT created_at, id FROM batches WHERE id = $2::text AND owner = $1::text))
      ORDER BY created_at DESC, id DESC
      LIMIT $3::int`,
    [owner, opts.after ?? null, opts.limit],
  );
  return rows;
}

export async function deleteBatchById(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM batches WHERE id = $1::text`, [id]);
}

/**
 * Moves a batch to `cancelling` if it can still be cancelled. Returns false
 * when the batch is already past the point where cancelling means anything.
 */
export async function markCancelling(db: Queryable, owner: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE batches SET status = 'cancelling', cancelling_at = clock_timestamp()
      WHERE id = $1::text AND owner = $2::text AND status IN ('validating', 'in_progress')`,
    [id, owner],
  );
  return (rowCount ?? 0) > 0;
}

export async function markInProgress(db: Queryable, id: string, total: number, model: string | null): Promise<void> {
  await db.query(
    `UPDATE batches SET total_count = $2::int, model = $3::text,
        status = CASE WHEN status = 'validating' THEN 'in_progress' ELSE status END,
        in_progress_at = COALESCE(in_progress_at, clock_timestamp())
      WHERE id = $1::text`,
    [id, total, model],
  );
}

/** The batch waits for its upstream; a repeat keeps the first `paused_at`. */
export async function markPaused(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE batches SET paused_at = COALESCE(paused_at, clock_timestamp()), pause_reason = $2::text
      WHERE id = $1::text`,
    [id, reason],
  );
}

/** The batch runs again. */
export async function markResumed(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE batches SET paused_at = NULL, pause_reason = NULL WHERE id = $1::text`, [id]);
}

export async function markFinalizing(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE batches SET status = 'finalizing', finalizing_at = COALESCE(finalizing_at, clock_timestamp())
      WHERE id = $1::text AND status = 'in_progress'`,
    [id],
  );
}

export async function markFailed(db: Queryable, id: string, errors: BatchErrorItem[]): Promise<void> {
  // jsonb refuses \u0000; a message quoting bad input must not make the failure itself fail.
  const storable = errors.map((e) => ({ ...e, message: e.message.replaceAll('\u0000', '') }));
  await db.query(
    `UPDATE batches SET status = 'failed', failed_at = COALESCE(failed_at, clock_timestamp()), errors = $2::jsonb
      WHERE id = $1::text`,
    [id, JSON.stringify(storable)],
  );
}

/**
 * Serializes finalizations of one batch (a retried attempt may overlap one on
 * a partitioned worker). Flushes never take it, so it adds no lock-order cycle.
 */
export async function lockBatchForFinalization(db: PoolClient, id: string): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('finalize:' || $1::text))`, [id]);
}


export async function markFinished(
  db: Queryable,
  id: string,
  status: FinalStatus,
  files: { outputFileId: string | null; errorFileId: string | null },
  counts: { completed: number; failed: number; usage: RequestUsage },
): Promise<void> {
  const stampColumn = { completed: 'completed_at', cancelled: 'cancelled_at', expired: 'expired_at' }[status];
  const { usage } = counts;
  await db.query(
    `UPDATE batches SET status = $2::text, ${stampColumn} = COALESCE(${stampColumn}, clock_timestamp()),
        finalizing_at = CASE WHEN $2::text = 'completed' THEN COALESCE(finalizing_at, clock_timestamp()) ELSE finalizing_at END,
        cancelling_at = CASE WHEN $2::text = 'cancelled' THEN COALESCE(cancelling_at, clock_timestamp()) ELSE cancelling_at END,
        output_file_id = $3::text, error_file_id = $4::text,
        completed_count = $5::int, failed_count = $6::int,
        usage_input_tokens = $7::bigint, usage_output_tokens = $8::bigint, usage_total_tokens = $9::bigint,
        usage_cached_tokens = $10::bigint, usage_reasoning_tokens = $11::bigint
      WHERE id = $1::text`,
    [
      id,
      status,
      files.outputFileId,
      files.errorFileId,
      counts.completed,
      counts.failed,
      usage.inputTokens,
      usage.outputTokens,
      usage.totalTokens,
      usage.cachedTokens,
      usage.reasoningTokens,
    ],
  );
}

/**
 * Adds newly finished requests (and their usage) to the live counters. A
 * final batch's counts were computed from its rows when its files were
 * written: a straggling chunk must not change them.
 */
export async function addRequestCounts(db: Queryable, id: string, completed: number, failed: number, usage: RequestUsage = NO_USAGE): Promise<void> {
  if (completed === 0 && failed === 0) return;
  await db.query(
    `UPDATE batches SET completed_count = completed_count + $2::int, failed_count = failed_count + $3::int,
        usage_input_tokens = usage_input_tokens + $4::bigint, usage_output_tokens = usage_output_tokens + $5::bigint,
        usage_total_tokens = usage_total_tokens + $6::bigint, usage_cached_tokens = usage_cached_tokens + $7::bigint,
        usage_reasoning_tokens = usage_reasoning_tokens + $8::bigint
      WHERE id = $1::text AND status NOT IN ('completed', 'cancelled', 'expired', 'failed')`,
    [id, completed, failed, usage.inputTokens, usage.outputTokens, usage.totalTokens, usage.cachedTokens, usage.reasoningTokens],
  );
}

/** Webhook target and secret, for the delivery activity only. */
export async function findWebhookTarget(
  db: Queryable,
  batchId: string,
): Promise<{ url: string | null; secret: string | null } | undefined> {
  const { rows } = await db.query<{ url: string | null; secret: string | null }>(
    `SELECT webhook_url AS url, webhook_secret AS secret FROM batches WHERE id = $1::text`,
    [batchId],
  );
  return rows[0];
}

/** A change to a batch's webhook; an absent field keeps what is stored. */
export interface WebhookUpdate {
  url?: string;
  events?: string[];
  maxRetries?: number;
  timeout?: number;
  /** Absent: keep; null: remove the webhook's own secret; a string: replace it. */
  secret?: string | null;
}

/**
 * Applies `change` in one statement, so concurrent changes to different fields
 * all stick. A batch without a webhook gets one only when `change.url` is
 * given; its other fields then come from `defaults`. Undefined when no batch
 * of this owner was changed (unknown, or no webhook and no URL given).
 */
export async function updateBatchWebhook(
  db: Queryable,
  owner: string,
  id: string,
  change: WebhookUpdate,
  defaults: { events: string[]; maxRetries: number; timeout: number },
): Promise<BatchRow | undefined> {
  const { rows } = await db.query<BatchRow>(
    `UPDATE batches SET
        webhook_url = COALESCE($3::text, webhook_url),
        webhook_events = COALESCE($4::text[], webhook_events, $9::text[]),
        webhook_max_retries = COALESCE($5::int, webhook_max_retries, $10::int),
        webhook_timeout = COALESCE($6::int, webhook_timeout, $11::int),
        webhook_secret = CASE WHEN $7::boolean THEN $8::text ELSE webhook_secret END,
        -- A secret replaced outright ends any rotation overlap: the old secrets stop signing at once.
        webhook_previous_secret = CASE WHEN $7::boolean THEN NULL ELSE webhook_previous_secret END,
        webhook_previous_secret_expires_at = CASE WHEN $7::boolean THEN NULL ELSE webhook_previous_secret_expires_at END
      WHERE id = $1::text AND owner = $2::text AND ($3::text IS NOT NULL OR webhook_url IS NOT NULL)
      RETURNING ${BATCH_COLUMNS}`,
    [
      id,
      owner,
      change.url ?? null,
      change.events ?? null,
      change.maxRetries ?? null,
      change.timeout ?? null,
      change.secret !== undefined,
      change.secret ?? null,
      defaults.events,
      defaults.maxRetries,
      defaults.timeout,
    ],
  );
  return rows[0];
}

/**
 * Makes `secret` the webhook's secret and keeps the one it replaces (the
 * batch's own, else `globalSecret`, the one its deliveries were signed with)
 * as the previous secret for `overlapSeconds`. A previous secret of an earlier
 * rotation is dropped. Undefined when this owner has no such batch with a webhook.
 */
export async function rotateBatchWebhookSecret(
  db: Queryable,
  owner: string,
  id: string,
  secret: string,
  globalSecret: string | null,
  overlapSeconds: number,
): Promise<(BatchRow & { webhook_previous_secret_expires_at: Date | null }) | undefined> {
  const { rows } = await db.query<BatchRow & { webhook_previous_secret_expires_at: Date | null }>(
    `UPDATE batches SET
        webhook_previous_secret = COALESCE(webhook_secret, $4::text),
        webhook_previous_secret_expires_at = CASE WHEN COALESCE(webhook_secret, $4::text) IS NULL THEN NULL
          ELSE clock_timestamp() + make_interval(secs => $5::int) END,
        webhook_secret = $3::text
      WHERE id = $1::text AND owner = $2::text AND webhook_url IS NOT NULL
      RETURNING ${BATCH_COLUMNS}, webhook_previous_secret_expires_at`,
    [id, owner, secret, globalSecret, overlapSeconds],
  );
  return rows[0];
}
