import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

export type DeadLetterState = 'pending' | 'retrying' | 'succeeded' | 'failed';

/** Why an entry is in the queue: its attempts ran out, or its endpoint is disabled and keeps it. */
export type DeadLetterReason = 'delivery_failed' | 'endpoint_disabled';

export interface DeadLetterRow {
  id: number;
  owner: string;
  /** Null for an operational event, which belongs to no batch. */
  batch_id: string | null;
  event_id: string;
  event_type: string;
  /** `batch_webhook`, or the id of the endpoint the entry's deliveries go to. */
  target: string;
  webhook_url: string;
  payload: string;
  error_message: string | null;
  attempts: number;
  last_attempt_at: Date | null;
  created_at: Date;
  retried_at: Date | null;
  retry_success: boolean | null;
  state: DeadLetterState;
  retry_count: number;
  last_delivery_id: string | null;
  reason: DeadLetterReason;
}

export interface DeadLetterFilter {
  batchId?: string;
  eventType?: string;
  state?: DeadLetterState;
  createdSince?: Date;
  /** `batch_webhook` or an endpoint id. */
  target?: string;
  reason?: DeadLetterReason;
  /** Only entries whose event happened in [eventSince, eventUntil). */
  eventSince?: Date;
  eventUntil?: Date;
}

/**
 * Puts an event into the queue once its delivery to one target ran out of
 * attempts. Keyed on (event, target), so a retried activity never writes two
 * rows, and each target of one event has its own entry.
 */
export async function insertDeadLetterOnce(
  db: Queryable,
  d: {
    owner: string;
    batchId: string | null;
    eventId: string;
    eventType: string;
    target: string;
    webhookUrl: string;
    payload: string;
    errorMessage: string;
    attempts: number;
    lastAttemptAt: Date | null;
    deliveryId: string;
    reason: DeadLetterReason;
  },
): Promise<DeadLetterRow & { inserted: boolean }> {
  const inserted = await db.query<DeadLetterRow>(
    `INSERT INTO webhook_dead_letter
       (owner, batch_id, event_id, event_type, webhook_url, payload, error_message, attempts, last_attempt_at,
        last_delivery_id, target, reason)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::int, $9::timestamptz, $10::text, $11::text, $12::text)
     ON CONFLICT (event_id, target) DO NOTHING
     RETURNING *`,
    [d.owner, d.batchId, d.eventId, d.eventType, d.webhookUrl, d.payload, d.errorMessage, d.attempts, d.lastAttemptAt, d.deliveryId, d.target, d.reason],
  );
  if (inserted.rows[0]) return { ...inserted.rows[0], inserted: true };
  const { rows } = await db.query<DeadLetterRow>(`SELECT * FROM webhook_dead_letter WHERE event_id = $1::text AND target = $2::text`, [
    d.eventId,
    d.target,
  ]);
  return { ...rows[0]!, inserted: false };
}

/** Records the outcome of a manual retry on the same entry; ignores a stale delivery. */
export async function recordDeadLetterRetryOutcome(
  db: Queryable,
  id: number,
  deliveryId: string,
  outcome:
    | { success: true }
    | { success: false; errorMessage: string; attempts: number; lastAttemptAt: Date | null },
): Promise<void> {
  if (outcome.success) {
    await db.query(
      `UPDATE webhook_dead_letter SET state = 'succeeded', retry_success = true
        WHERE id = $1::bigint AND last_delivery_id = $2::text`,
      [id, deliveryId],
    );
    return;
  }
  await db.query(
    `UPDATE webhook_dead_letter SET state = 'failed', retry_success = false, error_message = $3::text,
        attempts = $4::int, last_attempt_at = $5::timestamptz
      WHERE id = $1::bigint AND last_delivery_id = $2::text`,
    [id, deliveryId, outcome.errorMessage, outcome.attempts, outcome.lastAttemptAt],
  );
}

/**
 * One entry. `waitForClaims`: if a concurrent claim holds the row, wait for it
 * and read what it wrote (a plain read would still see the state before it).
 */
export async function findDeadLetter(db: Queryable, owner: string, id: number, opts: { waitForClaims?: boolean } = {}): Promise<DeadLetterRow | undefined> {
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT * FROM webhook_dead_letter WHERE id = $1::bigint AND owner = $2::text${opts.waitForClaims ? ' FOR SHARE' : ''}`,
    [id, owner],
  );
  return rows[0];
}

export async function listDeadLetters(
  db: Queryable,
  owner: string,
  filter: DeadLetterFilter,
  page: { limit: number; after?: number },
): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT * FROM webhook_dead_letter
      WHERE owner = $1::text
        AND ($2::text IS NULL OR batch_id = $2::text)
        AND ($3::text IS NULL OR event_type = $3::text)
        AND ($4::text IS NULL OR state = $4::text)
        AND ($5::bigint IS NULL OR id < $5::bigint)
        AND ($7::text IS NULL OR target = $7::text)
        AND ($8::text IS NULL OR reason = $8::text)
      ORDER BY id DESC
      LIMIT $6::int`,
    [owner, filter.batchId ?? null, filter.eventType ?? null, filter.state ?? null, page.after ?? null, page.limit, filter.target ?? null, filter.reason ?? null],
  );
  return rows;
}

export async function deleteDeadLetter(db: Queryable, owner: string, id: number): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM webhook_dead_letter WHERE id = $1::bigint AND owner = $2::text`, [
    id,
    owner,
  ]);
  return (rowCount ?? 0) > 0;
}

/**
 * Claims entries for a manual retry: only entries not already being retried
 * (nor already delivered) move to `retrying`, so two concurrent retries of one
 * entry start one delivery. Each claimed row gets the id of its new delivery
 * workflow in `last_delivery_id`, named after the entry's target as the
 * batch workflow names deliveries (src/workflows/workflow-ids.ts), or after
 * its event for an operational event. Entries come in the order their events
 * happened, so a recovery redelivers them in that order.
 */
export async function claimDeadLettersForRetry(
  db: Queryable,
  owner: string,
  where: { id?: number } & DeadLetterFilter,
  limit: number,
): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `WITH chosen AS (
       SELECT d.id, e.seq FROM webhook_dead_letter d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.owner = $1::text AND d.state IN ('pending', 'failed')
          AND ($2::bigint IS NULL OR d.id = $2::bigint)
          AND ($3::text IS NULL OR d.batch_id = $3::text)
          AND ($4::text IS NULL OR d.event_type = $4::text)
          AND ($5::timestamptz IS NULL OR d.created_at >= $5::timestamptz)
          AND ($7::text IS NULL OR d.target = $7::text)
          AND ($8::text IS NULL OR d.reason = $8::text)
          AND ($9::timestamptz IS NULL OR e.created_at >= $9::timestamptz)
          AND ($10::timestamptz IS NULL OR e.created_at < $10::timestamptz)
        ORDER BY e.created_at, e.id
        LIMIT $6::int
        FOR UPDATE OF d SKIP LOCKED)
     UPDATE webhook_dead_letter d
        SET state = 'retrying', retried_at = now(), retry_count = d.retry_count + 1, retry_success = NULL,
            last_delivery_id = COALESCE(
                                 'batch-' || d.batch_id
                                 || CASE WHEN d.target = 'batch_webhook' THEN '/webhook/' ELSE '/endpoint/' || d.target || '/' END
                                 || d.event_type || '-' || chosen.seq,
                                 'webhook-ops/' || d.event_id || '/' || d.target)
                               || '/retry-' || (d.retry_count + 1)
       FROM chosen WHERE d.id = chosen.id
     RETURNING d.*`,
    [
      owner,
      where.id ?? null,
      where.batchId ?? null,
      where.eventType ?? null,
      where.createdSince ?? null,
      limit,
      where.target ?? null,
      where.reason ?? null,
      where.eventSince ?? null,
      where.eventUntil ?? null,
    ],
  );
  return rows;
}

/** Ends a `retrying` state whose delivery workflow stopped without recording an outcome. */
export async function markDeadLetterRetryAbandoned(db: Queryable, id: number, deliveryId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE webhook_dead_letter SET state = 'failed', retry_success = false, error_message = $3::text
      WHERE id = $1::bigint AND last_delivery_id = $2::text AND state = 'retrying'`,
    [id, deliveryId, reason],
  );
  return (rowCount ?? 0) > 0;
}

/** Hands a claimed entry back when its delivery could not be started. */
export async function releaseDeadLetterClaim(db: Queryable, id: number): Promise<void> {
  await db.query(
    `UPDATE webhook_dead_letter SET state = CASE WHEN retry_count > 1 THEN 'failed' ELSE 'pending' END,
        retry_count = retry_count - 1
      WHERE id = $1::bigint AND state = 'retrying'`,
    [id],
  );
}
