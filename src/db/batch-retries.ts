import { BATCH_COLUMNS, type BatchRow, type NewBatch } from './batches.js';
import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

/** A batch that retries the failed requests of `retriedFrom`, read from `inputFileId`. */
export interface NewRetryBatch {
  id: string;
  owner: string;
  retriedFrom: string;
  inputFileId: string;
  expiresAt: Date;
  /** Undefined: the original's metadata. */
  metadata?: Record<string, string> | null;
  /** Undefined: the original's webhook, secret included. */
  webhook?: NewBatch['webhook'];
  idempotencyKey: string | null;
  requestFingerprint: string;
}

/**
 * Inserts the retry batch, taking endpoint, completion window, output expiry
 * and (unless given) metadata and webhook from the original, in one
 * statement so the original's webhook secret never leaves Postgres. Undefined
 * when the owner already used this idempotency key (or has no such original).
 */
export async function insertRetryBatch(db: Queryable, b: NewRetryBatch): Promise<BatchRow | undefined> {
  const webhook = b.webhook;
  const { rows } = await db.query<BatchRow>(
    `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, metadata, expires_at,
        idempotency_key, request_fingerprint, webhook_url, webhook_secret, webhook_max_retries, webhook_timeout,
        webhook_events, output_expires_after_seconds, retried_from)
     SELECT $1::text, o.owner, o.endpoint, $4::text, o.completion_window, 'validating',
        CASE WHEN $5::boolean THEN $6::jsonb ELSE o.metadata END, $7::timestamptz, $8::text, $9::text,
        CASE WHEN $10::boolean THEN $11::text ELSE o.webhook_url END,
        CASE WHEN $10::boolean THEN $12::text ELSE o.webhook_secret END,
        CASE WHEN $10::boolean THEN $13::int ELSE o.webhook_max_retries END,
        CASE WHEN $10::boolean THEN $14::int ELSE o.webhook_timeout END,
        CASE WHEN $10::boolean THEN $15::text[] ELSE o.webhook_events END,
        o.output_expires_after_seconds, o.id
       FROM batches o
      WHERE o.id = $3::text AND o.owner = $2::text
     ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${BATCH_COLUMNS}`,
    [
      b.id,
      b.owner,
      b.retriedFrom,
      b.inputFileId,
      b.metadata !== undefined,
      b.metadata === undefined || b.metadata === null ? null : JSON.stringify(b.metadata),
      b.expiresAt,
      b.idempotencyKey,
      b.requestFingerprint,
      webhook !== undefined,
      webhook?.url ?? null,
      webhook?.secret ?? null,
      webhook?.maxRetries ?? null,
      webhook?.timeout ?? null,
      webhook?.events ?? null,
    ],
  );
  return rows[0];
}
