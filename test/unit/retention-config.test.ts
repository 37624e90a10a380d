import { describe, expect, it } from 'vitest';
import { longestAttemptGapSeconds } from '../../src/activities/retention-activities.js';
import { parseConfig } from '../../src/config.js';

const DAY = 86_400;

describe('retention settings', () => {
  it('keep finished data 30 days and clean up hourly, 1,000 rows per statement, by default', () => {
    expect(parseConfig({}).retention).toEqual({
      batchRequestsSeconds: 30 * DAY,
      webhookEventsSeconds: 30 * DAY,
      webhookAttemptsSeconds: 30 * DAY,
      resolvedDeadLettersSeconds: 30 * DAY,
      cleanupIntervalSeconds: 3600,
      deleteBatchSize: 1000,
    });
  });

  it('take durations, seconds, or 0 to keep forever', () => {
    const config = parseConfig({
      RETENTION_BATCH_REQUESTS: '7d',
      RETENTION_WEBHOOK_EVENTS: '12h',
      RETENTION_WEBHOOK_ATTEMPTS: '7200',
      RETENTION_RESOLVED_DEAD_LETTERS: '0',
      RETENTION_CLEANUP_INTERVAL: '15m',
      RETENTION_DELETE_BATCH_SIZE: '250',
    });
    expect(config.retention).toEqual({
      batchRequestsSeconds: 7 * DAY,
      webhookEventsSeconds: 12 * 3600,
      webhookAttemptsSeconds: 7200,
      resolvedDeadLettersSeconds: 0,
      cleanupIntervalSeconds: 900,
      deleteBatchSize: 250,
    });
  });

  it.each([
    ['RETENTION_BATCH_REQUESTS', '30m'],
    ['RETENTION_WEBHOOK_EVENTS', 'a month'],
    ['RETENTION_WEBHOOK_ATTEMPTS', '3651d'],
    ['RETENTION_CLEANUP_INTERVAL', '30s'],
    ['RETENTION_CLEANUP_INTERVAL', '8d'],
    ['RETENTION_DELETE_BATCH_SIZE', '0'],
  ])('refuse %s=%s, naming the variable', (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}: `));
  });

  it('count a delivery as over only after the longest wait between attempts (with jitter) and an hour', () => {
    // The default schedule's longest wait is 20 h, spread by ±20 %.
    expect(longestAttemptGapSeconds(parseConfig({}).webhook)).toBe(20 * 3600 * 1.2 + 3600);
    expect(longestAttemptGapSeconds(parseConfig({ WEBHOOK_RETRY_SCHEDULE: '5m,3d' }).webhook)).toBe(3 * DAY * 1.2 + 3600);
    // Exponential backoff: its cap.
    expect(longestAttemptGapSeconds(parseConfig({ WEBHOOK_RETRY_MAX_INTERVAL_SECONDS: '600' }).webhook)).toBe(600 + 3600);
  });
});
