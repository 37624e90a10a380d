import {
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
  type WebhookEndpointRow,
} from '../db/webhook-endpoints.js';
import { newId } from '../shared/ids.js';
import { unixSeconds } from '../shared/unix-time.js';
import type { RotateWebhookSecretRequest } from '../batches/create-batch-request.js';
import type { CreateWebhookEndpointRequest, UpdateWebhookEndpointRequest } from '../webhooks/webhook-endpoint-request.js';
import { DEFAULT_WEBHOOK_EVENTS } from '../workflows/contracts.js';
import { assertWebhookUrl } from './batch-service.js';
import { generateWebhookSecret } from './batch-webhook-service.js';
import type { ServiceDeps } from './service-deps.js';
import { ServiceError } from './service-error.js';

/**
 * Every lifecycle event fans out to each of its owner's endpoints through a
 * child workflow of the batch; a bound keeps a batch's history (and a
 * receiver's load) in proportion. Stripe allows 16 endpoints per account.
 */
export const MAX_ENDPOINTS_PER_OWNER = 16;

/** An endpoint as users see it: never the secret (only the creation answer adds it). */
export function toWebhookEndpointObject(row: WebhookEndpointRow) {
  return {
    id: row.id,
    object: 'webhook_endpoint' as const,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    max_retries: row.max_retries,
    timeout: row.timeout,
    created_at: unixSeconds(row.created_at)!,
    updated_at: unixSeconds(row.updated_at)!,
  };
}

/** Registers an endpoint; the answer is the only place its secret is ever shown. */
export async function createWebhookEndpoint(deps: ServiceDeps, owner: string, body: CreateWebhookEndpointRequest) {
  await assertWebhookUrl(deps, body.url, 'url');
  const { webhook } = deps.config;
  const secret = body.secret ?? generateWebhookSecret();
  const row = await insertWebhookEndpoint(
    deps.pool,
    {
      id: newId('we'),
      owner,
      url: body.url,
      secret,
      events: body.events ?? DEFAULT_WEBHOOK_EVENTS,
      description: body.description ?? null,
      enabled: body.enabled ?? true,
      maxRetries: body.max_retries ?? webhook.defaultMaxRetries,
      timeout: body.timeout ?? webhook.defaultTimeoutSeconds,
    },
    MAX_ENDPOINTS_PER_OWNER,
  );
  if (!row) {
    throw new ServiceError('conflict', `At most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints per account; delete one first.`, 'too_many_endpoints');
  }
  deps.log.info({ endpointId: row.id, owner }, 'webhook endpoint created');
  return { ...toWebhookEndpointObject(row), secret };
}

export async function listWebhookEndpointObjects(deps: ServiceDeps, owner: string, page: { limit: number; after?: string }) {
  const rows = await listWebhookEndpoints(deps.pool, owner, { ...page, limit: page.limit + 1 });
  return rows.map(toWebhookEndpointObject);
}

export async function getWebhookEndpoint(deps: ServiceDeps, owner: string, id: string) {
  const row = await findWebhookEndpoint(deps.pool, owner, id);
  if (!row) throw ServiceError.notFound('webhook endpoint', id);
  return toWebhookEndpointObject(row);
}

/**
 * Changes an endpoint. Each attempt reads the URL from Postgres, so deliveries
 * under way use a new URL from their next attempt; disabling it stops them at
 * their next attempt (each is dead-lettered with that reason). `events`,
 * `max_retries` and `timeout` apply to events emitted afterwards.
 */
export async function updateWebhookEndpointSettings(deps: ServiceDeps, owner: string, id: string, body: UpdateWebhookEndpointRequest) {
  if (body.url !== undefined) await assertWebhookUrl(deps, body.url, 'url');
  const row = await updateWebhookEndpoint(deps.pool, owner, id, {
    url: body.url,
    events: body.events,
    description: body.description,
    enabled: body.enabled,
    maxRetries: body.max_retries,
    timeout: body.timeout,
  });
  if (!row) throw ServiceError.notFound('webhook endpoint', id);
  deps.log.info({ endpointId: id, owner, fields: Object.keys(body) }, 'webhook endpoint updated');
  return toWebhookEndpointObject(row);
}

/** Deletes an endpoint; its deliveries under way stop at their next attempt, dead-lettered with that reason. */
export async function deleteWebhookEndpointObject(deps: ServiceDeps, owner: string, id: string) {
  if (!(await deleteWebhookEndpoint(deps.pool, owner, id))) throw ServiceError.notFound('webhook endpoint', id);
  deps.log.info({ endpointId: id, owner }, 'webhook endpoint deleted');
  return { id, object: 'webhook_endpoint' as const, deleted: true };
}

/**
 * Replaces the endpoint's secret with `body.secret`, else a generated one, and
 * keeps signing with the one it replaces for WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS,
 * as batch webhooks do. The answer is the only place the new secret is ever shown.
 */
export async function rotateWebhookEndpointSecretOf(deps: ServiceDeps, owner: string, id: string, body: RotateWebhookSecretRequest) {
  const secret = body.secret ?? generateWebhookSecret();
  const overlapSeconds = deps.config.webhook.secretRotationOverlapSeconds;
  const row = await rotateWebhookEndpointSecret(deps.pool, owner, id, secret, overlapSeconds);
  if (!row) throw ServiceError.notFound('webhook endpoint', id);
  deps.log.info({ endpointId: id, owner, overlapSeconds }, 'webhook endpoint secret rotated');
  return { ...toWebhookEndpointObject(row), secret, previous_secret_expires_at: unixSeconds(row.previous_secret_expires_at)! };
}
