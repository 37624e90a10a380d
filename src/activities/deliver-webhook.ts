import { ApplicationFailure } from '@temporalio/common';
import { request } from 'undici';
import { eventTypeName, type LifecycleEvent } from '../batches/lifecycle-events.js';
import { findWebhookTarget } from '../db/batches.js';
import { parseRetryAfterMs } from '../shared/retry-after.js';
import { recordDeliveryAttempt } from '../db/webhook-delivery-attempts.js';
import { findWebhookEvent } from '../db/webhook-events.js';
import { isForbiddenAddressError, validateWebhookUrl } from '../webhooks/url-guard.js';
import { signWebhook } from '../webhooks/webhook-signer.js';
import type { ActivityDeps } from './activity-deps.js';

const RESPONSE_BODY_KEEP_BYTES = 1024;

/** Reads at most `limit` bytes of a response body, then drops the rest. */
async function readBodyPrefix(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    parts.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  body.destroy();
  return Buffer.concat(parts).subarray(0, limit).toString('utf8');
}

function describeError(err: unknown, timeoutSeconds: number): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
    return `timed out after ${timeoutSeconds}s`;
  }
  return `${e.code ?? e.name ?? 'Error'}: ${e.message ?? String(err)}`.slice(0, 500);
}

/**
 * One attempt to POST a frozen event to its batch's webhook URL, signed with
 * the batch's secret (or the global one). Every attempt is recorded. The URL is
 * checked again here, and the dispatcher refuses forbidden addresses after DNS
 * resolution; redirects are never followed (a 3xx is a failed attempt).
 */
export async function deliverWebhookAttempt(
  { pool, config, webhookDispatcher, log }: ActivityDeps,
  input: { eventId: string; deliveryId: string; timeoutSeconds: number; attempt: number },
): Promise<{ attempt: number; statusCode: number }> {
  const event = await findWebhookEvent(pool, input.eventId);
  if (!event) throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: `event ${input.eventId} not found`, nonRetryable: true });
  const target = await findWebhookTarget(pool, event.batch_id);
  if (!target?.url) throw ApplicationFailure.create({ type: 'WebhookNotConfigured', message: 'the batch has no webhook URL', nonRetryable: true });

  const timeoutMs = input.timeoutSeconds * 1000;
  const attemptedAt = new Date();
  const started = performance.now();
  let statusCode: number | null = null;
  let responseBody: string | null = null;
  let error: string | null = null;
  let retryAfter: number | undefined;
  let forbidden = false;

  const checked = validateWebhookUrl(target.url, { allowPrivateNetworks: config.webhook.allowPrivateNetworks });
  if (!checked.ok) {
    error = `refused: ${checked.reason}`;
    forbidden = true;
  } else {
    const headers = signWebhook({
      secret: target.secret ?? config.webhook.secret,
      eventId: event.id,
      eventType: eventTypeName(event.type as LifecycleEvent),
      body: event.payload,
      timestamp: Math.floor(Date.now() / 1000),
    });
    try {
      const res = await request(checked.url, {
        method: 'POST',
        headers,
        body: event.payload,
        dispatcher: webhookDispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      statusCode = res.statusCode;
      if (statusCode === 429 || statusCode === 503) {
        const header = res.headers['retry-after'];
        const ms = parseRetryAfterMs(Array.isArray(header) ? header[0] : header);
        retryAfter = ms === null ? undefined : Math.ceil(ms / 1000);
      }
      responseBody = await readBodyPrefix(res.body, RESPONSE_BODY_KEEP_BYTES).catch(() => null);
    } catch (err) {
      forbidden = isForbiddenAddressError(err);
      error = describeError(err, input.timeoutSeconds);
    }
  }
  const success = statusCode !== null && statusCode >= 200 && statusCode < 300;
  if (!success && error === null) error = `HTTP ${statusCode}`;
  await recordDeliveryAttempt(pool, {
    eventId: event.id,
    deliveryId: input.deliveryId,
    attempt: input.attempt,
    url: target.url,
    attemptedAt,
    durationMs: Math.round(performance.now() - started),
    statusCode,
    responseBody,
    error,
    success,
  });
  const logFields = { batchId: event.batch_id, eventId: event.id, deliveryId: input.deliveryId, attempt: input.attempt, statusCode };
  if (success) {
    log.info(logFields, 'webhook delivered');
    return { attempt: input.attempt, statusCode: statusCode! };
  }
  log.warn({ ...logFields, error }, 'webhook attempt failed');
  if (forbidden) {
    throw ApplicationFailure.create({ type: 'WebhookTargetForbidden', message: error!, nonRetryable: true });
  }
  const maxDelay = config.webhook.retryMaxIntervalSeconds;
  throw ApplicationFailure.create({
    type: 'WebhookDeliveryFailed',
    message: `attempt ${input.attempt} failed: ${error}`,
    nextRetryDelay: retryAfter === undefined ? undefined : `${Math.min(Math.max(retryAfter, 1), maxDelay)}s`,
  });
}
