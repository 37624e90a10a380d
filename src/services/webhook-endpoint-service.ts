import {
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
  type WebhookEndpointRow,
} from '../db/webhook-endpoints.js';
import { webhookRetrySettings } from '../webhooks/retry-settings.js';
import { operationalEventStartOptions, operationalEventWorkflow } from '../workflows/operational-event-workflow.js';
import { retryDeadLettersInBulk } from './dead-letter-service.js';
import { withTemporalDeadline } from './temporal-call.js';
import { newId } from '../shared/ids.js';
import { unixSeconds } from '../shared/unix-time.js';
import { toWebhookEndpointObject } from '../webhooks/webhook-endpoint-object.js';
import type { RotateWebhookSecretRequest } from '../batches/create-batch-request.js';
import type { CreateWebhookEndpointRequest, RecoverWebhookEndpointRequest, UpdateWebhookEndpointRequest } from '../webhooks/webhook-endpoint-request.js';
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
      metadata: body.metadata ?? null,
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
 * their next attempt, and they and later events are kept for a recovery
 * (dead-letter entries with reason `endpoint_disabled`). `events`,
 * `max_retries` and `timeout` apply to events emitted afterwards. Disabling
 * or enabling sends the matching operational event.
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
    metadata: body.metadata,
  });
  if (!row) throw ServiceError.notFound('webhook endpoint', id);
  deps.log.info({ endpointId: id, owner, fields: Object.keys(body) }, 'webhook endpoint updated');
  if (row.enabled !== row.was_enabled) await announceStateChange(deps, row);
  return toWebhookEndpointObject(row);
}

/**
 * Starts the `webhook_endpoint.enabled`/`.disabled` event of an owner's
 * change. The change is saved whatever happens here: if Temporal cannot take
 * the event now, the answer still succeeds and the miss is logged.
 */
async function announceStateChange(deps: ServiceDeps, row: WebhookEndpointRow) {
  const type = row.enabled ? ('webhook_endpoint.enabled' as const) : ('webhook_endpoint.disabled' as const);
  const input = { owner: row.owner, subject: { type, endpointId: row.id, changedAtMs: row.updated_at.getTime() }, retry: webhookRetrySettings(deps.config.webhook) };
  try {
    await withTemporalDeadline(deps, () =>
      deps.temporal.workflow.start(operationalEventWorkflow, { ...operationalEventStartOptions(input), taskQueue: deps.config.temporal.taskQueue }),
    );
  } catch (err) {
    deps.log.warn({ endpointId: row.id, owner: row.owner, eventType: type, err: (err as Error).message }, 'operational event not started');
  }
}

/**
 * Redelivers what an enabled endpoint missed: its unresolved dead-letter
 * entries (kept while it was disabled, or whose attempts ran out) whose event
 * happened in [since, until), oldest first, at the bulk-retry rate.
 */
export async function recoverWebhookEndpoint(deps: ServiceDeps, owner: string, id: string, body: RecoverWebhookEndpointRequest) {
  const endpoint = await findWebhookEndpoint(deps.pool, owner, id);
  if (!endpoint) throw ServiceError.notFound('webhook endpoint', id);
  if (!endpoint.enabled) {
    throw new ServiceError('conflict', `The endpoint is disabled; enable it first (PATCH /v1/webhook_endpoints/${id} {"enabled": true}), then recover.`, 'endpoint_disabled', 'id');
  }
  const filter = { target: id, eventSince: new Date(body.since * 1000), ...(body.until === undefined ? {} : { eventUntil: new Date(body.until * 1000) }) };
  const started = await retryDeadLettersInBulk(deps, owner, filter, `webhook-endpoint-recover/${id}`);
  deps.log.info({ endpointId: id, owner, since: body.since, started: started.started }, 'webhook endpoint recovery started');
  return { ...started, object: 'webhook_endpoint.recovery' as const, endpoint_id: id };
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
