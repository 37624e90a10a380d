import { hmacSha256, standardWebhooksKey } from './verify-webhook-signature.js';

export { standardWebhooksKey };

export interface SignWebhookInput {
  /** Per-webhook secret, else the global one; `undefined` or `''` sends the delivery unsigned. */
  secret: string | undefined;
  /**
   * The secret a rotation replaced, while its overlap lasts: the delivery is
   * signed with both, so a receiver verifies with either while it switches.
   */
  previousSecret?: string;
  /** Stable across retries of the same event, so receivers can deduplicate. */
  eventId: string;
  /** e.g. `batch.completed`. */
  eventType: string;
  /** The exact bytes that will be sent as the request body. */
  body: string;
  /** Unix seconds of this attempt; every retry is signed afresh with its own time. */
  timestamp: number;
}

export const WEBHOOK_USER_AGENT = 'batch-webhooks/1.0';

/**
 * Request headers for one delivery attempt, in both signature formats (see
 * verify-webhook-signature.ts): the seed `X-Webhook-*` headers and Standard Webhooks
 * `webhook-*` headers. Without a secret only the identifying headers are sent.
 * With a previous secret each header carries two signatures, the new one first:
 * `webhook-signature: v1,<new> v1,<old>` (Standard Webhooks' list) and
 * `X-Webhook-Signature: sha256=<new>,sha256=<old>`.
 */
export function signWebhook(input: SignWebhookInput): Record<string, string> {
  const { secret, previousSecret, eventId, eventType, body, timestamp } = input;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`signWebhook: timestamp must be whole unix seconds, got ${timestamp}`);
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': WEBHOOK_USER_AGENT,
    'X-Webhook-Event': eventType,
    'X-Webhook-Id': eventId,
    'webhook-id': eventId,
    'webhook-timestamp': String(timestamp),
  };
  if (!secret) return headers;

  const secrets = previousSecret && previousSecret !== secret ? [secret, previousSecret] : [secret];
  const seed = secrets.map((key) => `sha256=${hmacSha256(Buffer.from(key, 'utf8'), `${timestamp}.`, body).toString('hex')}`);
  const standard = secrets.map((key) => `v1,${hmacSha256(standardWebhooksKey(key), `${eventId}.${timestamp}.`, body).toString('base64')}`);
  headers['X-Webhook-Timestamp'] = String(timestamp);
  headers['X-Webhook-Signature'] = seed.join(',');
  headers['webhook-signature'] = standard.join(' ');
  return headers;
}
