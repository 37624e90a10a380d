import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

/**
 * The retention clean-up's deletes (docs/RETENTION.md). Each statement
 * removes at most `limit` rows, so one round never holds many locks for long;
 * the caller repeats rounds while `more` is true. Ages are measured with the
 * database's clock, as the rows' own timestamps are.
 */
export interface DeletedRound {
  deleted: number;
  /** The round hit its limit: there may be more to delete. */
  more: boolean;
}

const FINAL_BATCH = `('completed', 'failed', 'expired', 'cancelled')`;
const FINISHED_AT = 'COALESCE(completed_at, failed_at, expired_at, cancelled_at)';
// A dead-letter entry is resolved once a retry delivered it; pending, retrying and failed entries can still be retried.
const UNRESOLVED_DEAD_LETTER = `state <> 'succeeded'`;

/** Finished batches whose rows one round looks at: bounds the round even when each has few rows. */
const BATCHES_PER_ROUND = 100;

/**
 * Deletes the content of expired files, then the files whose content is gone.
 * A file that a batch is still validating from is left until validation is
 * over (it reads the content chunk by chunk); readers see an expired file as
 * gone at once either way (src/db/files.ts).
 */
export async function deleteExpiredFiles(db: Queryable, limit: number): Promise<DeletedRound & { chunks: number }> {
  const stillRead = `EXISTS (SELECT 1 FROM batches b WHERE b.input_file_id = f.id AND b.status IN ('validating', 'cancelling'))`;
  const chunks = await db.query(
    `WITH doomed AS (
       SELECT c.file_id, c.seq FROM files f JOIN file_chunks c ON c.file_id = f.id
        WHERE f.expires_at <= now() AND NOT ${stillRead}
        LIMIT $1::int)
     DELETE FROM file_chunks c USING doomed d WHERE c.file_id = d.file_id AND c.seq = d.seq`,
    [limit],
  );
  const files = await db.query(
    `WITH doomed AS (
       SELECT f.id FROM files f
        WHERE f.expires_at <= now() AND NOT ${stillRead}
          AND NOT EXISTS (SELECT 1 FROM file_chunks c WHERE c.file_id = f.id)
        ORDER BY f.expires_at
        LIMIT $1::int)
     DELETE FROM files f USING doomed d WHERE f.id = d.id`,
    [limit],
  );
  const chunkCount = chunks.rowCount ?? 0;
  const fileCount = files.rowCount ?? 0;
  return { deleted: fileCount, chunks: chunkCount, more: chunkCount >= limit || fileCount >= limit };
}

/**
 * Deletes the per-request rows of batches that finished (completed, failed,
 * expired, cancelled) more than `retentionSeconds` ago; a running batch is
 * never touched. A batch whose last row is gone is marked, so later rounds
 * skip it.
 */
export async function deleteFinishedBatchRequests(db: Queryable, retentionSeconds: number, limit: number): Promise<DeletedRound> {
  const due = `SELECT id FROM batches
      WHERE requests_purged_at IS NULL AND status IN ${FINAL_BATCH}
        AND ${FINISHED_AT} < now() - make_interval(secs => $1::int)
      ORDER BY ${FINISHED_AT}
      LIMIT ${BATCHES_PER_ROUND}`;
  const deleted = await db.query(
    `WITH due AS (${due}),
     doomed AS (
       SELECT r.batch_id, r.line FROM due
         JOIN LATERAL (SELECT batch_id, line FROM batch_requests WHERE batch_id = due.id ORDER BY line LIMIT $2::int) r ON true
        LIMIT $2::int)
     DELETE FROM batch_requests b USING doomed d WHERE b.batch_id = d.batch_id AND b.line = d.line`,
    [retentionSeconds, limit],
  );
  const purged = await db.query(
    `UPDATE batches SET requests_purged_at = now()
      WHERE id IN (${due}) AND NOT EXISTS (SELECT 1 FROM batch_requests r WHERE r.batch_id = batches.id)`,
    [retentionSeconds],
  );
  const count = deleted.rowCount ?? 0;
  return { deleted: count, more: count >= limit || (purged.rowCount ?? 0) >= BATCHES_PER_ROUND };
}

/**
 * Deletes delivery attempts older than `retentionSeconds`, a whole delivery at
 * a time and only once it is over: none of its attempts is in flight and none
 * was made in the last `quietSeconds` (longer than any wait between two
 * attempts, so no delivery waiting for its next attempt qualifies). Attempts
 * of an event with an unresolved dead-letter entry, or of a batch still
 * running, are kept.
 */
export async function deleteOldDeliveryAttempts(db: Queryable, retentionSeconds: number, quietSeconds: number, limit: number): Promise<DeletedRound> {
  const { rowCount } = await db.query(
    `WITH doomed AS (
       SELECT a.id FROM webhook_delivery_attempts a
        WHERE a.attempted_at < now() - make_interval(secs => $1::int) AND a.state <> 'started'
          AND NOT EXISTS (
            SELECT 1 FROM webhook_delivery_attempts o
             WHERE o.delivery_id = a.delivery_id
               AND (o.state = 'started' OR o.attempted_at >= now() - make_interval(secs => $2::int)))
          AND NOT EXISTS (SELECT 1 FROM webhook_dead_letter d WHERE d.event_id = a.event_id AND d.${UNRESOLVED_DEAD_LETTER})
          AND NOT EXISTS (
            SELECT 1 FROM webhook_events e JOIN batches b ON b.id = e.batch_id
             WHERE e.id = a.event_id AND b.status NOT IN ${FINAL_BATCH})
        ORDER BY a.attempted_at
        LIMIT $3::int)
     DELETE FROM webhook_delivery_attempts a USING doomed d WHERE a.id = d.id`,
    [retentionSeconds, Math.max(retentionSeconds, quietSeconds), limit],
  );
  const count = rowCount ?? 0;
  return { deleted: count, more: count >= limit };
}

/**
 * Deletes webhook events older than `retentionSeconds` whose deliveries are
 * over: no attempt of theirs is left (attempts go first, by the rule above),
 * no dead-letter entry of theirs is unresolved, and their batch, if any, has
 * finished.
 */
export async function deleteOldWebhookEvents(db: Queryable, retentionSeconds: number, limit: number): Promise<DeletedRound> {
  const { rowCount } = await db.query(
    `WITH doomed AS (
       SELECT e.id FROM webhook_events e
        WHERE e.created_at < now() - make_interval(secs => $1::int)
          AND NOT EXISTS (SELECT 1 FROM webhook_delivery_attempts a WHERE a.event_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM webhook_dead_letter d WHERE d.event_id = e.id AND d.${UNRESOLVED_DEAD_LETTER})
          AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = e.batch_id AND b.status NOT IN ${FINAL_BATCH})
        ORDER BY e.created_at
        LIMIT $2::int)
     DELETE FROM webhook_events e USING doomed d WHERE e.id = d.id`,
    [retentionSeconds, limit],
  );
  const count = rowCount ?? 0;
  return { deleted: count, more: count >= limit };
}

/** Deletes dead-letter entries that a retry delivered (`succeeded`) more than `retentionSeconds` ago. */
export async function deleteResolvedDeadLetters(db: Queryable, retentionSeconds: number, limit: number): Promise<DeletedRound> {
  const { rowCount } = await db.query(
    `WITH doomed AS (
       SELECT id FROM webhook_dead_letter
        WHERE state = 'succeeded' AND COALESCE(retried_at, created_at) < now() - make_interval(secs => $1::int)
        ORDER BY COALESCE(retried_at, created_at)
        LIMIT $2::int)
     DELETE FROM webhook_dead_letter d USING doomed x WHERE d.id = x.id`,
    [retentionSeconds, limit],
  );
  const count = rowCount ?? 0;
  return { deleted: count, more: count >= limit };
}
