import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

export interface WebhookEventRow {
  id: string;
  owner: string;
  /** Null for a test event, which belongs to no batch. */
  batch_id: string | null;
  type: string;
  seq: number;
  payload: string;
  created_at: Date;
}

/** Inserts the event once per (batch, type, seq); a repeat returns the row first written. */
export async function insertWebhookEventOnce(
  db: Queryable,
  e: { id: string; owner: string; batchId: string; type: string; seq: number; payload: string },
): Promise<WebhookEventRow> {
  const inserted = await db.query<WebhookEventRow>(
    `INSERT INTO webhook_events (id, owner, batch_id, type, seq, payload)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::int, $6::text)
     ON CONFLICT (batch_id, type, seq) DO NOTHING
     RETURNING *`,
    [e.id, e.owner, e.batchId, e.type, e.seq, e.payload],
  );
  if (inserted.rows[0]) return inserted.rows[0];
  const existing = await db.query<WebhookEventRow>(
    `SELECT * FROM webhook_events WHERE batch_id = $1::text AND type = $2::text AND seq = $3::int`,
    [e.batchId, e.type, e.seq],
  );
  return existing.rows[0]!;
}

/**
 * Stores an event that belongs to no batch (a test event, an operational
 * event) once per id; a repeat returns the row first written.
 */
export async function insertEventWithoutBatch(db: Queryable, e: { id: string; owner: string; type: string; payload: string }): Promise<WebhookEventRow> {
  const { rows } = await db.query<WebhookEventRow>(
    `WITH inserted AS (
       INSERT INTO webhook_events (id, owner, batch_id, type, seq, payload)
       VALUES ($1::text, $2::text, NULL, $3::text, 0, $4::text)
       ON CONFLICT (id) DO NOTHING
       RETURNING *)
     SELECT * FROM inserted UNION ALL SELECT * FROM webhook_events WHERE id = $1::text`,
    [e.id, e.owner, e.type, e.payload],
  );
  return rows[0]!;
}

export async function findWebhookEvent(db: Queryable, id: string): Promise<WebhookEventRow | undefined> {
  const { rows } = await db.query<WebhookEventRow>(`SELECT * FROM webhook_events WHERE id = $1::text`, [id]);
  return rows[0];
}

export interface WebhookEventWithTarget extends WebhookEventRow {
  /** The target's URL and secret; the secret never leaves the activity that signs. */
  url: string | null;
  secret: string | null;
  /** The secret replaced by a rotation, while its overlap lasts; null otherwise. */
  previous_secret: string | null;
  /** `disabled` or `deleted` when an endpoint target can no longer be sent to; null otherwise. */
  unavailable: 'disabled' | 'deleted' | null;
}

/**
 * An event with its target's URL and secrets, in one round trip: the batch's
 * own webhook, or (with `endpointId`) one of the owner's registered endpoints.
 */
export async function findWebhookEventWithTarget(db: Queryable, id: string, endpointId?: string): Promise<WebhookEventWithTarget | undefined> {
  if (endpointId === undefined) {
    const { rows } = await db.query<WebhookEventWithTarget>(
      `SELECT e.*, b.webhook_url AS url, b.webhook_secret AS secret,
              CASE WHEN b.webhook_previous_secret_expires_at > clock_timestamp() THEN b.webhook_previous_secret END AS previous_secret,
              NULL::text AS unavailable
         FROM webhook_events e JOIN batches b ON b.id = e.batch_id
        WHERE e.id = $1::text`,
      [id],
    );
    return rows[0];
  }
  const { rows } = await db.query<WebhookEventWithTarget>(
    `SELECT e.*, w.url, w.secret,
            CASE WHEN w.previous_secret_expires_at > clock_timestamp() THEN w.previous_secret END AS previous_secret,
            CASE WHEN w.id IS NULL THEN 'deleted' WHEN NOT w.enabled THEN 'disabled' END AS unavailable
       FROM webhook_events e LEFT JOIN webhook_endpoints w ON w.id = $2::text AND w.owner = e.owner
      WHERE e.id = $1::text`,
    [id, endpointId],
  );
  return rows[0];
}
