import { cancellationSignal } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { request } from 'undici';
import { endpointIdOf, publicEventType, WEBHOOK_NOT_SENT, type DeliveryTarget, type WebhookSendOutcome } from '../workflows/contracts.js';
import { parseRetryAfterMs } from '../shared/retry-after.js';
import { findWebhookEventWithTarget, type WebhookEventWithTarget } from '../db/webhook-events.js';
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

/** What the POST itself came to; the caller adds when it went out and how long it took. */
type PostResult = DistributiveOmit<WebhookSendOutcome, 'attemptedAt' | 'durationMs'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * One HTTP attempt: POSTs a frozen event to its target's URL (the batch's
 * webhook or a registered endpoint), signed with the target's secret (a batch
 * webhook without one: the global one), read from Postgres here so it
 * never enters workflow history. Writes nothing: whatever happens once the
 * request is out comes back as an outcome; only a failure before the request
 * goes out throws (`WebhookNotSent`). A worker stopping mid-request cancels
 * it and the activity fails, so the workflow records the attempt as interrupted.
 */
export async function sendWebhook(
  deps: ActivityDeps,
  input: { eventId: string; deliveryId: string; attempt: number; timeoutSeconds: number; target?: DeliveryTarget },
): Promise<WebhookSendOutcome> {
  const event = await findWebhookEventWithTarget(deps.pool, input.eventId, endpointIdOf(input.target)).catch((err: unknown) => {
    throw ApplicationFailure.create({ type: WEBHOOK_NOT_SENT, message: `not sent: ${describeError(err, input.timeoutSeconds)}` });
  });
  // Disabled or deleted since the attempt was logged: not sent; the next check of the target ends the delivery.
  if (event?.unavailable) throw ApplicationFailure.create({ type: WEBHOOK_NOT_SENT, message: `not sent: the endpoint was ${event.unavailable}` });
  if (!event?.url) throw ApplicationFailure.create({ type: WEBHOOK_NOT_SENT, message: 'not sent: the event or its webhook URL is gone' });
  return sendWebhookEvent(deps, input, { ...event, url: event.url });
}

/**
 * The POST of an event already read with its target, as sendWebhook and
 * attemptWebhook make it: no database access, so nothing between logging an
 * attempt and its request can fail for Postgres.
 */
export async function sendWebhookEvent(
  { config, webhookDispatcher, log, metrics }: ActivityDeps,
  input: { eventId: string; deliveryId: string; attempt: number; timeoutSeconds: number; target?: DeliveryTarget },
  event: WebhookEventWithTarget & { url: string },
): Promise<WebhookSendOutcome> {
  const attemptedAt = Date.now();
  const started = performance.now();
  const result = await post(event, event.url, attemptedAt, { config, webhookDispatcher }, input.timeoutSeconds);
  const outcome: WebhookSendOutcome = { ...result, attemptedAt, durationMs: Math.round(performance.now() - started) };

  const logFields = { batchId: event.batch_id, eventId: event.id, deliveryId: input.deliveryId, attempt: input.attempt, statusCode: outcome.statusCode };
  if (outcome.kind === 'delivered') {
    log.info(logFields, 'webhook delivered');
    // Only here is the event's creation time at hand (the row read above); attempts are counted by the worker's interceptor.
    const target = input.target?.kind === 'endpoint' ? 'endpoint' : 'batch_webhook';
    metrics?.eventDelivered({ target, seconds: (attemptedAt + outcome.durationMs - event.created_at.getTime()) / 1000 });
  } else log.warn({ ...logFields, error: outcome.error }, 'webhook attempt failed');
  return outcome;
}

/**
 * The request itself. The URL is checked again here, and the dispatcher
 * refuses forbidden addresses after DNS resolution; redirects are never
 * followed (a 3xx is a failed attempt).
 */
async function post(
  event: WebhookEventWithTarget,
  url: string,
  attemptedAt: number,
  { config, webhookDispatcher }: Pick<ActivityDeps, 'config' | 'webhookDispatcher'>,
  timeoutSeconds: number,
): Promise<PostResult> {
  const checked = validateWebhookUrl(url, { allowPrivateNetworks: config.webhook.allowPrivateNetworks });
  if (!checked.ok) return { kind: 'forbidden', error: `refused: ${checked.reason}`, statusCode: null, responseBody: null };
  const headers = signWebhook({
    secret: event.secret ?? config.webhook.secret,
    previousSecret: event.previous_secret ?? undefined,
    eventId: event.id,
    eventType: publicEventType(event.type),
    body: event.payload,
    timestamp: Math.floor(attemptedAt / 1000),
  });
  const timeoutMs = timeoutSeconds * 1000;
  const workerStopping = cancellationSignal();
  try {
    const res = await request(checked.url, {
      method: 'POST',
      headers,
      body: event.payload,
      dispatcher: webhookDispatcher,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), workerStopping]),
    });
    const statusCode = res.statusCode;
    const responseBody = await readBodyPrefix(res.body, RESPONSE_BODY_KEEP_BYTES).catch(() => null);
    if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode, responseBody };
    // Standard Webhooks: 410 means the endpoint is gone for good; retrying cannot help.
    if (statusCode === 410) return { kind: 'gone', error: 'HTTP 410 Gone: the receiver asked for no more deliveries', statusCode, responseBody };
    let retryAfterSeconds: number | undefined;
    if (statusCode === 429 || statusCode === 503) {
      const header = res.headers['retry-after'];
      const ms = parseRetryAfterMs(Array.isArray(header) ? header[0] : header);
      retryAfterSeconds = ms === null ? undefined : Math.ceil(ms / 1000);
    }
    return { kind: 'failed', error: `HTTP ${statusCode}`, statusCode, responseBody, retryAfterSeconds };
  } catch (err) {
    // Not a failed attempt but an unfinished one: the worker is going away.
    if (workerStopping.aborted) throw new CancelledFailure('the worker stopped mid-request');
    const error = describeError(err, timeoutSeconds);
    if (isForbiddenAddressError(err)) return { kind: 'forbidden', error, statusCode: null, responseBody: null };
    return { kind: 'failed', error, statusCode: null, responseBody: null };
  }
}
