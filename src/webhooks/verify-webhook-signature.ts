/**
 * Verifies webhook deliveries sent by temporal-batch-webhooks.
 *
 * Public module (`temporal-batch-webhooks/verify`): receivers import it, so it
 * depends on nothing but node:crypto and can also be copied into another codebase.
 *
 * Two formats are accepted, whichever the delivery carries (Standard Webhooks wins
 * when both are present):
 * - Standard Webhooks (what OpenAI's own webhooks use): `webhook-id`,
 *   `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`
 *   where key is {@link standardWebhooksKey}(secret).
 * - Seed format: `X-Webhook-Timestamp`, `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 *   keyed with the secret's UTF-8 bytes exactly as given (a `whsec_` prefix included).
 *
 * After a secret rotation, while the old secret overlaps, each header holds one
 * signature per secret (`v1,<a> v1,<b>`; `sha256=<a>,sha256=<b>`): a delivery
 * verifies when any one of them matches.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookVerificationReason =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature'
  | 'no_matching_signature';

/**
 * Thrown when a delivery does not verify. `reason` is a stable code; `name` is set so
 * callers can recognise it without `instanceof` (which breaks across bundles/realms).
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly reason: WebhookVerificationReason;

  constructor(reason: WebhookVerificationReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export function isWebhookVerificationError(err: unknown): err is WebhookVerificationError {
  return err instanceof Error && err.name === 'WebhookVerificationError' && 'reason' in err;
}

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookSignatureInput {
  /** The raw request body, byte for byte as received (not re-serialised JSON). */
  payload: string | Buffer;
  /** Request headers; names are matched case-insensitively. */
  headers: WebhookHeaders;
  secret: string;
  /** Accepted clock difference in either direction. Default 300 s. */
  toleranceSeconds?: number;
  /** Clock override, for tests. */
  now?: Date;
}

const WHSEC_PREFIX = 'whsec_';
// Canonical (padded) standard base64, as Svix/OpenAI/Standard Webhooks secrets are written.
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The HMAC key of the Standard Webhooks format. A secret of the form `whsec_<base64>`
 * (non-empty, canonical base64) means the decoded bytes; any other secret — including
 * `whsec_` followed by something that is not base64 — means the UTF-8 bytes of the whole
 * secret. The signer imports this function, so both sides follow one rule.
 */
export function standardWebhooksKey(secret: string): Buffer {
  const rest = secret.startsWith(WHSEC_PREFIX) ? secret.slice(WHSEC_PREFIX.length) : '';
  if (rest.length > 0 && CANONICAL_BASE64.test(rest)) return Buffer.from(rest, 'base64');
  return Buffer.from(secret, 'utf8');
}

/** HMAC-SHA256 over `prefix` followed by the raw payload bytes. */
export function hmacSha256(key: Buffer | string, prefix: string, payload: string | Buffer): Buffer {
  const mac = createHmac('sha256', key).update(prefix, 'utf8');
  if (typeof payload === 'string') mac.update(payload, 'utf8');
  else mac.update(payload);
  return mac.digest();
}

/**
 * Throws {@link WebhookVerificationError} unless the delivery carries a valid signature
 * made with `secret` at a timestamp within `toleranceSeconds` of now. Unsigned
 * deliveries are rejected (`missing_headers`): if you configured a secret, expect one.
 */
export function verifyWebhookSignature(input: VerifyWebhookSignatureInput): void {
  const { payload, headers, secret } = input;
  if (typeof secret !== 'string' || secret.length === 0) {
    // A configuration mistake on the receiver, not a bad delivery: don't dress it up as one.
    throw new TypeError('verifyWebhookSignature: secret must be a non-empty string');
  }
  const tolerance = input.toleranceSeconds ?? 300;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError('verifyWebhookSignature: toleranceSeconds must be a non-negative number');
  }
  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);

  const standardSignature = headerValue(headers, 'webhook-signature');
  if (standardSignature !== undefined) {
    const id = headerValue(headers, 'webhook-id');
    const timestamp = headerValue(headers, 'webhook-timestamp');
    if (id === undefined || timestamp === undefined) {
      throw new WebhookVerificationError('missing_headers', 'webhook-signature present but webhook-id or webhook-timestamp missing');
    }
    checkTimestamp(timestamp, nowSeconds, tolerance);
    const expected = hmacSha256(standardWebhooksKey(secret), `${id}.${timestamp}.`, payload);
    const candidates = signatureEntries(standardSignature)
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => Buffer.from(entry.slice(3), 'base64'));
    if (candidates.length === 0) {
      throw new WebhookVerificationError('invalid_signature', 'webhook-signature holds no v1,<base64> entry');
    }
    if (!candidates.some((candidate) => constantTimeEqual(candidate, expected))) {
      throw new WebhookVerificationError('no_matching_signature', 'no webhook-signature entry matches the payload and secret');
    }
    return;
  }

  const seedSignature = headerValue(headers, 'x-webhook-signature');
  if (seedSignature !== undefined) {
    const timestamp = headerValue(headers, 'x-webhook-timestamp');
    if (timestamp === undefined) {
      throw new WebhookVerificationError('missing_headers', 'X-Webhook-Signature present but X-Webhook-Timestamp missing');
    }
    checkTimestamp(timestamp, nowSeconds, tolerance);
    // One sha256=<hex> entry, or several separated by commas (during a secret rotation's overlap).
    const entries = seedSignature.split(/[\s,]+/).filter((entry) => entry.length > 0);
    const candidates = entries.map((entry) => /^sha256=([0-9a-fA-F]{64})$/.exec(entry)?.[1]);
    if (candidates.length === 0 || candidates.some((hex) => hex === undefined)) {
      throw new WebhookVerificationError('invalid_signature', 'X-Webhook-Signature is not sha256=<64 hex digits> (comma-separated when several)');
    }
    const expected = hmacSha256(Buffer.from(secret, 'utf8'), `${timestamp}.`, payload);
    if (!candidates.some((hex) => constantTimeEqual(Buffer.from(hex!, 'hex'), expected))) {
      throw new WebhookVerificationError('no_matching_signature', 'X-Webhook-Signature does not match the payload and secret');
    }
    return;
  }

  throw new WebhookVerificationError(
    'missing_headers',
    'no webhook-signature or X-Webhook-Signature header (was the delivery sent without a secret?)',
  );
}

function checkTimestamp(raw: string, nowSeconds: number, tolerance: number): void {
  if (!/^\d{1,15}$/.test(raw)) {
    throw new WebhookVerificationError('invalid_timestamp', 'timestamp header is not unix seconds');
  }
  const timestamp = Number(raw);
  if (nowSeconds - timestamp > tolerance) {
    throw new WebhookVerificationError('timestamp_too_old', `timestamp is more than ${tolerance} s in the past`);
  }
  if (timestamp - nowSeconds > tolerance) {
    throw new WebhookVerificationError('timestamp_too_new', `timestamp is more than ${tolerance} s in the future`);
  }
}

/** Space-separated entries; trailing commas tolerated because repeated headers get joined with ", ". */
function signatureEntries(header: string): string[] {
  return header
    .split(/\s+/)
    .map((entry) => entry.replace(/,+$/, ''))
    .filter((entry) => entry.length > 0);
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  // Lengths are public (a SHA-256 MAC is always 32 bytes); only the content comparison must be constant-time.
  return a.length === b.length && timingSafeEqual(a, b);
}

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  let value: string | string[] | null | undefined;
  if (typeof (headers as Headers).get === 'function') {
    value = (headers as Headers).get(name);
  } else {
    for (const [key, entry] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
      if (key.toLowerCase() === name) {
        value = entry;
        break;
      }
    }
  }
  if (Array.isArray(value)) value = value.join(' ');
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
