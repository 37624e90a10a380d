import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

export interface DeliveryAttemptRow {
  id: number;
  event_id: string;
  event_type: string;
  delivery_id: string;
  attempt: number;
  url: string;
  attempted_at: Date;
  duration_ms: number;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
  success: boolean;
}

export interface NewDeliveryAttempt {
  eventId: string;
  deliveryId: string;
  attempt: number;
  url: string;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  success: boolean;
}

/** One row per (delivery, attempt number): a retried activity attempt overwrites nothing. */
export async function recordDeliveryAttempt(db: Queryable, a: NewDeliveryAttempt): Promise<void> {
  await db.query(
    `INSERT INTO webhook_delivery_attempts
       (event_id, delivery_id, attempt, url, attempted_at, duration_ms, status_code, response_body, error, success)
     VALUES ($1::text, $2::text, $3::int, $4::text, $5::timestamptz, $6::int, $7::int, $8::text, $9::text, $10::bool)
     ON CONFLICT (delivery_id, attempt) DO NOTHING`,
    [a.eventId, a.deliveryId, a.attempt, a.url, a.attemptedAt, a.durationMs, a.statusCode, a.responseBody, a.error, a.success],
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
