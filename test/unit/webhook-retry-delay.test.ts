import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { webhookRetrySettings } from '../../src/webhooks/retry-settings.js';
import type { WebhookAttemptOutcome } from '../../src/workflows/contracts.js';
import { retryDelaySeconds } from '../../src/workflows/webhook-delivery-workflow.js';

const failed = (retryAfterSeconds?: number): WebhookAttemptOutcome => ({
  kind: 'failed',
  error: 'HTTP 503',
  statusCode: 503,
  responseBody: null,
  attemptedAt: 0,
  durationMs: 1,
  ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
});
const settings = (env: Record<string, string> = {}) => webhookRetrySettings(parseConfig(env).webhook);
const middle = () => 0.5; // no jitter
const [lowest, highest] = [() => 0, () => 0.999_999];

describe('webhook retry spacing', () => {
  it('defaults to the three-day schedule: 5 min, 1 h 55 min, … 20 h, the last one repeating', () => {
    const retry = settings();
    expect(retry.scheduleSeconds).toEqual([300, 6900, 10_800, 18_000, 21_600, 28_800, 43_200, 57_600, 72_000]);
    const waits = Array.from({ length: 9 }, (_, i) => retryDelaySeconds(failed(), i + 1, retry, middle));
    expect(waits).toEqual(retry.scheduleSeconds);
    const offsetsHours = waits.map((_, i) => waits.slice(0, i + 1).reduce((a, b) => a + b, 0) / 3600);
    expect(offsetsHours.at(-1)).toBe(72);
    expect(retryDelaySeconds(failed(), 12, retry, middle)).toBe(72_000);
  });

  it('spreads each scheduled wait by at most ±20 %', () => {
    const retry = settings();
    expect(retryDelaySeconds(failed(), 1, retry, lowest)).toBe(240);
    expect(retryDelaySeconds(failed(), 1, retry, highest)).toBe(360);
  });

  it('takes a Retry-After that is sooner than the schedule, never one that is later', () => {
    const retry = settings();
    expect(retryDelaySeconds(failed(120), 1, retry, middle)).toBe(120);
    expect(retryDelaySeconds(failed(0), 1, retry, middle)).toBe(1);
    expect(retryDelaySeconds(failed(86_400), 1, retry, middle)).toBe(300);
  });

  it('WEBHOOK_RETRY_SCHEDULE replaces the waits; a bad one names the variable', () => {
    expect(settings({ WEBHOOK_RETRY_SCHEDULE: '30s,2m,1h30m,1d' }).scheduleSeconds).toEqual([30, 120, 5400, 86_400]);
    expect(() => parseConfig({ WEBHOOK_RETRY_SCHEDULE: '5m,soon' })).toThrow(/^invalid configuration: WEBHOOK_RETRY_SCHEDULE: /);
    expect(() => parseConfig({ WEBHOOK_RETRY_SCHEDULE: '8d' })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
  });

  it('setting the exponential variables selects backoff, as before schedules existed', () => {
    const retry = settings({ WEBHOOK_RETRY_INITIAL_SECONDS: '10' });
    expect(retry.scheduleSeconds).toBeUndefined();
    expect([1, 2, 3].map((n) => retryDelaySeconds(failed(), n, retry, middle))).toEqual([10, 20, 40]);
    expect(retryDelaySeconds(failed(99_999), 1, retry, middle)).toBe(3600);
  });
});
