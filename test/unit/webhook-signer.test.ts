import { createHmac } from 'node:crypto';
import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  isWebhookVerificationError,
  verifyWebhookSignature,
  type VerifyWebhookSignatureInput,
  type WebhookVerificationReason,
} from '../../src/webhooks/verify-webhook-signature.js';
import { signWebhook, standardWebhooksKey } from '../../src/webhooks/webhook-signer.js';

// One known-good fixture; each test below breaks one thing.
const KEY_BYTES = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const SECRET = `whsec_${KEY_BYTES.toString('base64')}`;
const PLAIN_SECRET = 'my-plain-shared-secret';
const EVENT_ID = 'evt_01JABCDEF';
const EVENT_TYPE = 'batch.completed';
const TIMESTAMP = 1_700_000_000;
const BODY = JSON.stringify({ id: EVENT_ID, type: EVENT_TYPE, data: { id: 'batch_123' } });
const AT_TIMESTAMP = new Date(TIMESTAMP * 1000);

function sign(overrides: Partial<Parameters<typeof signWebhook>[0]> = {}): Record<string, string> {
  return signWebhook({ secret: SECRET, eventId: EVENT_ID, eventType: EVENT_TYPE, body: BODY, timestamp: TIMESTAMP, ...overrides });
}

function verify(overrides: Partial<VerifyWebhookSignatureInput> = {}): void {
  verifyWebhookSignature({ payload: BODY, headers: sign(), secret: SECRET, now: AT_TIMESTAMP, ...overrides });
}

function reasonOf(fn: () => void): WebhookVerificationReason | 'passed' {
  try {
    fn();
    return 'passed';
  } catch (err) {
    if (isWebhookVerificationError(err)) return err.reason;
    throw err;
  }
}

function only(headers: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => names.includes(name)));
}

const STANDARD = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];
const SEED = ['X-Webhook-Timestamp', 'X-Webhook-Signature'];

describe('signWebhook', () => {
  it('produces the documented headers, computed independently here', () => {
    const seed = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${TIMESTAMP}.${BODY}`).digest('hex');
    const standard = createHmac('sha256', KEY_BYTES).update(`${EVENT_ID}.${TIMESTAMP}.${BODY}`).digest('base64');
    expect(sign()).toEqual({
      'content-type': 'application/json',
      'user-agent': 'batch-webhooks/1.0',
      'X-Webhook-Event': EVENT_TYPE,
      'X-Webhook-Id': EVENT_ID,
      'X-Webhook-Timestamp': String(TIMESTAMP),
      'X-Webhook-Signature': `sha256=${seed}`,
      'webhook-id': EVENT_ID,
      'webhook-timestamp': String(TIMESTAMP),
      'webhook-signature': `v1,${standard}`,
    });
  });

  it('keys Standard Webhooks with the UTF-8 bytes of a secret without whsec_', () => {
    const standard = createHmac('sha256', Buffer.from(PLAIN_SECRET, 'utf8')).update(`${EVENT_ID}.${TIMESTAMP}.${BODY}`).digest('base64');
    expect(sign({ secret: PLAIN_SECRET })['webhook-signature']).toBe(`v1,${standard}`);
  });

  it('sends no signature headers without a secret', () => {
    for (const secret of [undefined, '']) {
      expect(sign({ secret })).toEqual({
        'content-type': 'application/json',
        'user-agent': 'batch-webhooks/1.0',
        'X-Webhook-Event': EVENT_TYPE,
        'X-Webhook-Id': EVENT_ID,
        'webhook-id': EVENT_ID,
        'webhook-timestamp': String(TIMESTAMP),
      });
    }
  });

  it('signs each attempt with its own timestamp while the id stays fixed', () => {
    const retry = sign({ timestamp: TIMESTAMP + 60 });
    expect(retry['webhook-id']).toBe(EVENT_ID);
    expect(retry['webhook-signature']).not.toBe(sign()['webhook-signature']);
  });

  it('rejects a timestamp that is not whole seconds', () => {
    expect(() => sign({ timestamp: Date.now() + 0.5 })).toThrow(RangeError);
  });
});

describe('standardWebhooksKey', () => {
  it.each([
    [SECRET, KEY_BYTES],
    ['whsec_dGVzdA==', Buffer.from('test')],
    [PLAIN_SECRET, Buffer.from(PLAIN_SECRET, 'utf8')],
    ['whsec_', Buffer.from('whsec_', 'utf8')],
    ['whsec_not base64!', Buffer.from('whsec_not base64!', 'utf8')],
    ['whsec_abc', Buffer.from('whsec_abc', 'utf8')], // unpadded: not canonical base64
  ])('%s', (secret, key) => {
    expect(standardWebhooksKey(secret).equals(key)).toBe(true);
  });
});

describe('third-party receivers verify our deliveries unchanged', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("OpenAI SDK webhooks.unwrap() with a whsec_ secret", async () => {
    const client = new OpenAI({ apiKey: 'x', webhookSecret: SECRET });
    const headers = sign({ timestamp: now() });
    await expect(client.webhooks.unwrap(BODY, headers)).resolves.toMatchObject({ id: EVENT_ID, type: EVENT_TYPE });
    await expect(client.webhooks.verifySignature(`${BODY} `, headers)).rejects.toThrow(/does not match/);
  });

  it('OpenAI SDK with a secret without whsec_', async () => {
    const client = new OpenAI({ apiKey: 'x', webhookSecret: PLAIN_SECRET });
    await expect(client.webhooks.verifySignature(BODY, sign({ secret: PLAIN_SECRET, timestamp: now() }))).resolves.toBeUndefined();
  });

  it('standardwebhooks Webhook.verify() with a whsec_ secret', () => {
    const headers = sign({ timestamp: now() });
    expect(new Webhook(SECRET).verify(BODY, headers)).toMatchObject({ id: EVENT_ID });
    expect(() => new Webhook(SECRET).verify(`${BODY} `, headers)).toThrow(/No matching signature/);
  });

  it('standardwebhooks with the base64 of a plain secret', () => {
    for (const secret of [PLAIN_SECRET, 'whsec_not base64!']) {
      const headers = sign({ secret, timestamp: now() });
      expect(new Webhook(Buffer.from(secret, 'utf8').toString('base64')).verify(BODY, headers)).toMatchObject({ id: EVENT_ID });
    }
  });
});

describe('verifyWebhookSignature', () => {
  it('accepts the fixture, in either format alone and in both', () => {
    expect(reasonOf(() => verify())).toBe('passed');
    expect(reasonOf(() => verify({ headers: only(sign(), STANDARD) }))).toBe('passed');
    expect(reasonOf(() => verify({ headers: only(sign(), SEED) }))).toBe('passed');
  });

  it('accepts a plain secret and a whsec_ secret that is not base64', () => {
    for (const secret of [PLAIN_SECRET, 'whsec_not base64!']) {
      expect(reasonOf(() => verify({ secret, headers: sign({ secret }) }))).toBe('passed');
      expect(reasonOf(() => verify({ secret, headers: only(sign({ secret }), SEED) }))).toBe('passed');
    }
  });

  it('reads headers case-insensitively, from a Headers object or arrays, with a Buffer payload', () => {
    const upper = Object.fromEntries(Object.entries(sign()).map(([k, v]) => [k.toUpperCase(), v]));
    const lower = Object.fromEntries(Object.entries(sign()).map(([k, v]) => [k.toLowerCase(), [v]]));
    expect(reasonOf(() => verify({ headers: upper }))).toBe('passed');
    expect(reasonOf(() => verify({ headers: lower }))).toBe('passed');
    expect(reasonOf(() => verify({ headers: new Headers(only(sign(), SEED)) }))).toBe('passed');
    expect(reasonOf(() => verify({ payload: Buffer.from(BODY, 'utf8') }))).toBe('passed');
  });

  it('accepts any matching entry among several (secret rotation)', () => {
    const headers = only(sign(), STANDARD);
    const good = headers['webhook-signature'];
    const other = sign({ secret: 'whsec_b2xkIHNlY3JldA==' })['webhook-signature'];
    expect(reasonOf(() => verify({ headers: { ...headers, 'webhook-signature': `${other} v2,xyz ${good}` } }))).toBe('passed');
    expect(reasonOf(() => verify({ headers: { ...headers, 'webhook-signature': `${other}, ${good}` } }))).toBe('passed');
  });

  it('allows exactly the tolerance and no more, both ways', () => {
    const at = (seconds: number) => new Date((TIMESTAMP + seconds) * 1000);
    expect(reasonOf(() => verify({ now: at(300) }))).toBe('passed');
    expect(reasonOf(() => verify({ now: at(-300) }))).toBe('passed');
    expect(reasonOf(() => verify({ now: at(301) }))).toBe('timestamp_too_old');
    expect(reasonOf(() => verify({ now: at(-301) }))).toBe('timestamp_too_new');
    expect(reasonOf(() => verify({ now: at(301), toleranceSeconds: 600 }))).toBe('passed');
  });

  it.each([
    ['tampered body', { payload: `${BODY} ` }, 'no_matching_signature'],
    ['tampered body (seed format)', { payload: `${BODY} `, headers: only(sign(), SEED) }, 'no_matching_signature'],
    ['wrong secret', { secret: 'whsec_d3Jvbmc=' }, 'no_matching_signature'],
    ['wrong secret (seed format)', { secret: 'whsec_d3Jvbmc=', headers: only(sign(), SEED) }, 'no_matching_signature'],
    ['stale timestamp (301 s old)', { headers: sign({ timestamp: TIMESTAMP - 301 }) }, 'timestamp_too_old'],
    ['future timestamp (301 s ahead)', { headers: sign({ timestamp: TIMESTAMP + 301 }) }, 'timestamp_too_new'],
    ['stale seed timestamp', { headers: only(sign({ timestamp: TIMESTAMP - 301 }), SEED) }, 'timestamp_too_old'],
    ['no headers at all', { headers: {} }, 'missing_headers'],
    ['unsigned delivery while a secret is expected', { headers: sign({ secret: undefined }) }, 'missing_headers'],
    ['signature without webhook-id', { headers: only(sign(), ['webhook-timestamp', 'webhook-signature']) }, 'missing_headers'],
    ['seed signature without timestamp', { headers: only(sign(), ['X-Webhook-Signature']) }, 'missing_headers'],
    ['timestamp not a number', { headers: { ...sign(), 'webhook-timestamp': '17e8' } }, 'invalid_timestamp'],
    ['replayed with a new timestamp', { headers: { ...sign(), 'webhook-timestamp': String(TIMESTAMP + 1) } }, 'no_matching_signature'],
    ['other event id', { headers: { ...sign(), 'webhook-id': 'evt_other' } }, 'no_matching_signature'],
    ['no v1 entry', { headers: { ...sign(), 'webhook-signature': 'v2,abc' } }, 'invalid_signature'],
    ['malformed seed signature', { headers: { ...only(sign(), SEED), 'X-Webhook-Signature': 'md5=abc' } }, 'invalid_signature'],
  ] as const)('rejects: %s', (_name, overrides, reason) => {
    expect(reasonOf(() => verify(overrides))).toBe(reason);
  });

  it('throws a named error with a reason, and a TypeError for an empty secret', () => {
    let caught: unknown;
    try {
      verify({ payload: 'x' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: 'WebhookVerificationError', reason: 'no_matching_signature' });
    expect(() => verify({ secret: '' })).toThrow(TypeError);
  });
});

describe('signing during a secret rotation', () => {
  const OLD = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const rotated = () => sign({ previousSecret: OLD });
  const only = (headers: Record<string, string>, format: 'standard' | 'seed') => {
    const { 'webhook-signature': standard, 'X-Webhook-Signature': seed, ...rest } = headers;
    return format === 'standard' ? { ...rest, 'webhook-signature': standard! } : { ...rest, 'X-Webhook-Signature': seed! };
  };

  it('carries one signature per secret, the new one first, in both headers', () => {
    const headers = rotated();
    const single = sign();
    expect(headers['webhook-signature']!.split(' ')).toEqual([single['webhook-signature'], sign({ secret: OLD })['webhook-signature']]);
    expect(headers['X-Webhook-Signature']!.split(',')).toEqual([single['X-Webhook-Signature'], sign({ secret: OLD })['X-Webhook-Signature']]);
    // The same secret twice is signed once.
    expect(sign({ previousSecret: SECRET })).toEqual(single);
  });

  it('verifies with either secret in either format, with our verifier, the standardwebhooks library and OpenAI\'s SDK', async () => {
    for (const secret of [SECRET, OLD]) {
      for (const format of ['standard', 'seed'] as const) {
        expect(() => verify({ headers: only(rotated(), format), secret })).not.toThrow();
      }
      // The library checks the timestamp against the real clock.
      const now = sign({ previousSecret: OLD, timestamp: Math.floor(Date.now() / 1000) });
      expect(new Webhook(secret).verify(BODY, now)).toMatchObject({ id: EVENT_ID });
      await expect(new OpenAI({ apiKey: 'unused', webhookSecret: secret }).webhooks.verifySignature(BODY, now)).resolves.toBeUndefined();
    }
    expect(() => verify({ headers: only(rotated(), 'seed'), secret: 'whsec_other' })).toThrow(expect.objectContaining({ reason: 'no_matching_signature' }));
    expect(() => verify({ headers: only(rotated(), 'standard'), secret: 'whsec_other' })).toThrow(expect.objectContaining({ reason: 'no_matching_signature' }));
  });

  it('accepts X-Webhook-Signature lists separated by commas and spaces, and refuses a list with a malformed entry', () => {
    const [fresh, old] = rotated()['X-Webhook-Signature']!.split(',');
    const headers = (value: string) => ({ ...only(rotated(), 'seed'), 'X-Webhook-Signature': value });
    expect(() => verify({ headers: headers(`${old}, ${fresh}`) })).not.toThrow();
    expect(() => verify({ headers: headers(`${fresh} ${old}`) })).not.toThrow();
    expect(() => verify({ headers: headers(`${fresh},sha256=zz`) })).toThrow(expect.objectContaining({ reason: 'invalid_signature' }));
    expect(() => verify({ headers: headers(',') })).toThrow(expect.objectContaining({ reason: 'invalid_signature' }));
  });
});
