import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

export interface WebhookEndpointRow {
  id: string;
  owner: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  /** Set when the service disabled the endpoint (a 410 Gone); cleared when its owner enables or disables it. */
  disabled_reason: string | null;
  max_retries: number;
  timeout: number;
  metadata: Record<string, string> | null;
  /** When its current run of failed attempts began; null after a success. */
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Every column but the secret, which only the signing activity reads (findEndpointTarget). */
const ENDPOINT_COLUMNS =
  'id, owner, url, events, description, enabled, disabled_reason, max_retries, timeout, metadata, failing_since, created_at, updated_at';

export interface NewWebhookEndpoint {
  id: string;
  owner: string;
  url: string;
  secret: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  maxRetries: number;
  timeout: number;
  metadata: Record<string, string> | null;
}

/** Inserts an endpoint unless the owner already has `maxPerOwner`; undefined when at the limit. */
export async function insertWebhookEndpoint(db: Queryable, e: NewWebhookEndpoint, maxPerOwner: number): Promise<WebhookEndpointRow | undefined> {
  const { rows } = await db.query<WebhookEndpointRow>(
    `INSERT INTO webhook_endpoints (id, owner, url, secret, events, description, enabled, max_retries, timeout, metadata)
     SELECT $1::text, $2::text, $3::text, $4::text, $5::text[], $6::text, $7::bool, $8::int, $9::int, $11::jsonb
      WHERE (SELECT count(*) FROM webhook_endpoints WHERE owner = $2::text) < $10::int
     RETURNING ${ENDPOINT_COLUMNS}`,
    [e.id, e.owner, e.url, e.secret, e.events, e.description, e.enabled, e.maxRetries, e.timeout, maxPerOwner, e.metadata === null ? null : JSON.stringify(e.metadata)],
  );
  return rows[0];
}

export async function findWebhookEndpoint(db: Queryable, owner: string, id: string): Promise<WebhookEndpointRow | undefined> {
  const { rows } = await db.query<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1::text AND owner = $2::text`,
    [id, owner],
  );
  return rows[0];
}

/** An owner's endpoints, newest first, after the endpoint `after` (cursor). */
export async function listWebhookEndpoints(db: Queryable, owner: string, page: { limit: number; after?: string }): Promise<WebhookEndpointRow[]> {
  const { rows } = await db.query<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
      WHERE owner = $1::text
        AND ($2::text IS NULL OR (created_at, id) <
             (SELECT created_at, id FROM webhook_endpoints WHERE id = $2::text AND owner = $1::text))
      ORDER BY created_at DESC, id DESC
      LIMIT $3::int`,
    [owner, page.after ?? null, page.limit],
  );
  return rows;
}

export interface WebhookEndpointChanges {
  url?: string;
  events?: string[];
  /** null clears the description. */
  description?: string | null;
  enabled?: boolean;
  maxRetries?: number;
  timeout?: number;
  /** null clears the metadata. */
  metadata?: Record<string, string> | null;
}

/**
 * Changes the given fields; fields left undefined keep their value. Enabling
 * an endpoint forgets its failing streak. `was_enabled` is the state before.
 */
export async function updateWebhookEndpoint(
  db: Queryable,
  owner: string,
  id: string,
  c: WebhookEndpointChanges,
): Promise<(WebhookEndpointRow & { was_enabled: boolean }) | undefined> {
  const { rows } = await db.query<WebhookEndpointRow & { was_enabled: boolean }>(
    `WITH before AS (SELECT id, enabled FROM webhook_endpoints WHERE id = $1::text AND owner = $2::text FOR UPDATE)
     UPDATE webhook_endpoints w
        SET url = COALESCE($3::text, url),
            events = COALESCE($4::text[], events),
            description = CASE WHEN $5::bool THEN $6::text ELSE description END,
            enabled = COALESCE($7::bool, w.enabled),
            disabled_reason = CASE WHEN $7::bool IS NULL THEN disabled_reason END,
            failing_since = CASE WHEN $7::bool THEN NULL ELSE failing_since END,
            max_retries = COALESCE($8::int, max_retries),
            timeout = COALESCE($9::int, timeout),
            metadata = CASE WHEN $10::bool THEN $11::jsonb ELSE metadata END,
            updated_at = clock_timestamp()
       FROM before
      WHERE w.id = before.id
      RETURNING ${ENDPOINT_COLUMNS.replace(/(\w+)/g, 'w.$1')}, before.enabled AS was_enabled`,
    [
      id,
      owner,
      c.url ?? null,
      c.events ?? null,
      c.description !== undefined,
      c.description ?? null,
      c.enabled ?? null,
      c.maxRetries ?? null,
      c.timeout ?? null,
      c.metadata !== undefined,
      c.metadata ? JSON.stringify(c.metadata) : null,
    ],
  );
  return rows[0];
}

export async function deleteWebhookEndpoint(db: Queryable, owner: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM webhook_endpoints WHERE id = $1::text AND owner = $2::text`, [id, owner]);
  return (rowCount ?? 0) > 0;
}

/**
 * Replaces the endpoint's secret and keeps the one it replaces signing for
 * `overlapSeconds` (a rotation during an overlap drops the oldest at once).
 */
export async function rotateWebhookEndpointSecret(
  db: Queryable,
  owner: string,
  id: string,
  secret: string,
  overlapSeconds: number,
): Promise<(WebhookEndpointRow & { previous_secret_expires_at: Date }) | undefined> {
  const { rows } = await db.query<WebhookEndpointRow & { previous_secret_expires_at: Date }>(
    `UPDATE webhook_endpoints SET
        previous_secret = secret,
        previous_secret_expires_at = clock_timestamp() + make_interval(secs => $4::int),
        secret = $3::text,
        updated_at = clock_timestamp()
      WHERE id = $1::text AND owner = $2::text
      RETURNING ${ENDPOINT_COLUMNS}, previous_secret_expires_at`,
    [id, owner, secret, overlapSeconds],
  );
  return rows[0];
}

/**
 * Disables an enabled endpoint and says why; undefined when it is already
 * disabled (or gone), so a repeat changes nothing and keeps the first reason.
 * Its `updated_at` is then the moment it was disabled.
 */
export async function disableWebhookEndpoint(db: Queryable, id: string, reason: string): Promise<WebhookEndpointRow | undefined> {
  const { rows } = await db.query<WebhookEndpointRow>(
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2::text, updated_at = clock_timestamp()
      WHERE id = $1::text AND enabled
      RETURNING ${ENDPOINT_COLUMNS}`,
    [id, reason],
  );
  return rows[0];
}

/** The endpoint if it is disabled for exactly `reason`: what a repeated disabling step finds. */
export async function findEndpointDisabledFor(db: Queryable, id: string, reason: string): Promise<WebhookEndpointRow | undefined> {
  const { rows } = await db.query<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1::text AND NOT enabled AND disabled_reason = $2::text`,
    [id, reason],
  );
  return rows[0];
}

/**
 * The owner's endpoints that subscribe to `event`, enabled or not, oldest
 * first: the enabled ones are the fan-out of one event, the disabled ones keep it.
 */
export async function listSubscribedEndpoints(db: Queryable, owner: string, event: string): Promise<WebhookEndpointRow[]> {
  const { rows } = await db.query<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
      WHERE owner = $1::text AND $2::text = ANY (events)
      ORDER BY created_at, id`,
    [owner, event],
  );
  return rows;
}

/**
 * Notes one attempt's result on the endpoint's failing streak: a success ends
 * it, a failure starts it unless it runs already. Returns when the streak
 * began (null after a success) and whether the endpoint is enabled; each
 * statement writes only when the streak starts or ends.
 */
export async function noteEndpointAttempt(db: Queryable, id: string, success: boolean): Promise<{ failing_since: Date | null; enabled: boolean } | undefined> {
  if (success) {
    await db.query(`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1::text AND failing_since IS NOT NULL`, [id]);
    return undefined;
  }
  const { rows } = await db.query<{ failing_since: Date | null; enabled: boolean }>(
    `WITH started AS (
       UPDATE webhook_endpoints SET failing_since = clock_timestamp() WHERE id = $1::text AND failing_since IS NULL
       RETURNING failing_since)
     SELECT COALESCE((SELECT failing_since FROM started), w.failing_since) AS failing_since, w.enabled
       FROM webhook_endpoints w WHERE w.id = $1::text`,
    [id],
  );
  return rows[0];
}
