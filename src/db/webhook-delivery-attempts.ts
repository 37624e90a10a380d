import type { WebhookAttemptOutcome } from '../workflows/contracts.js';
import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

/**
 * `started` is written before the request goes out; `finished` once it came
 * back (any answer, error or refusal); `interrupted` when its worker stopped
 * mid-request and the outcome is unknown.
 */
export type DeliveryAttemptState = 'started' | 'finished' | 'interrupted';

export interface DeliveryAttemptRow {
  id: number;
  event_id: string;
  event_type: string;
  delivery_id: string;
  attempt: number;
  url: string;
  state: DeliveryAttemptState;
  attempted_at: Date;
  finished_at: Date | null;
  /** Null until the attempt finishes, and for an interrupted one. */
  duration_ms: number | null;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
  success: boolean;
}

/**
 * Logs an attempt as `started` before its request goes out. One row per
 * (delivery, attempt number): writing it again (a retried activity) changes
 * nothing, and says the attempt was already started, with its recorded
 * outcome if it finished.
 */
export async function startDeliveryAttempt(
  db: Queryable,
  a: { eventId: string; deliveryId: string; attempt: number; url: string },
): Promise<{ alreadyStarted: boolean; outcome: WebhookAttemptOutcome | null }> {
  const { rows } = await db.query<{ already_started: boolean; outcome: WebhookAttemptOutcome | null }>(
    `WITH inserted AS (
       INSERT INTO webhook_delivery_attempts (event_id, delivery_id, attempt, url, state, attempted_at, success)
       VALUES ($1::text, $2::text, $3::int, $4::text, 'started', now(), false)
       ON CONFLICT (delivery_id, attempt) DO NOTHING
       RETURNING 1)
     SELECT NOT EXISTS (SELECT 1 FROM inserted) AS already_started,
            (SELECT outcome FROM webhook_delivery_attempts WHERE delivery_id = $2::text AND attempt = $3::int) AS outcome`,
    [a.eventId, a.deliveryId, a.attempt, a.url],
  );
  const row = rows[0]!;
  return { alreadyStarted: row.already_started, outcome: row.already_started ? row.outcome : null };
}

export interface FinishedDeliveryAttempt {
  deliveryId: string;
  attempt: number;
  state: 'finished' | 'interrupted';
  /** When the request went out; null keeps the time the attempt was started. */
  attemptedAt: Date | null;
  durationMs: number | null;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  success: boolean;
  /** The outcome as the workflow saw it, so a repeat of the attempt's steps can read it back. */
  outcome: WebhookAttemptOutcome;
}

/** Finishes a started attempt; a repeat (a retried activity) changes nothing. */
export async function finishDeliveryAttempt(db: Queryable, a: FinishedDeliveryAttempt): Promise<void> {
  await db.query(
    `UPDATE webhook_delivery_attempts
        SET state = $3::text, attempted_at = COALESCE($4::timestamptz, attempted_at), finished_at = now(),
            duration_ms = $5::int, status_code = $6::int, response_body = $7::text, error = $8::text, success = $9::bool,
            outcome = $10::jsonb
      WHERE delivery_id = $1::text AND attempt = $2::int AND state = 'started'`,
    [a.deliveryId, a.attempt, a.state, a.attemptedAt, a.durationMs, a.statusCode, a.responseBody, a.error, a.success, JSON.stringify(a.outcome)],
  );
}

/** Attempts of one delivery, oldest first. */
export async function listAttemptsOfDelivery(db: Queryable, deliveryId: string): Promise<DeliveryAttemptRow[]> {
  const { rows } = await db.query<DeliveryAttemptRow>(
    `SELECT a.*, e.type AS event_type FROM webhook_delivery_attempts a JOIN webhook_events e ON e.id = a.event_id
      WHERE a.delivery_id = $1::text ORDER BY a.attempt`,
    [deliveryId],
  );
  return rows;
}

/** Every attempt for a batch's events, oldest first, with cursor pagination on the row id. */
export async function listAttemptsOfBatch(
  db: Queryable,
  owner: string,
  batchId: string,
  opts: { limit: number; after?: number },
): Promise<DeliveryAttemptRow[]> {
  const { rows } = await db.query<DeliveryAttemptRow>(
    `SELECT a.*, e.type AS event_type FROM webhook_delivery_attempts a JOIN webhook_events e ON e.id = a.event_id
      WHERE e.batch_id = $1::text AND e.owner = $2::text AND ($3::bigint IS NULL OR a.id > $3::bigint)
      ORDER BY a.id LIMIT $4::int`,
    [batchId, owner, opts.after ?? null, opts.limit],
  );
  return rows;
}
