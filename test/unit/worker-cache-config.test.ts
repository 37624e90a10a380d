import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';

describe('WORKER_MAX_CACHED_WORKFLOWS', () => {
  it('defaults to 500 rather than to what the SDK derives from the capped heap', () => {
    expect(parseConfig({}).temporal.maxCachedWorkflows).toBe(500);
    expect(parseConfig({ WORKER_MAX_CACHED_WORKFLOWS: '' }).temporal.maxCachedWorkflows).toBe(500);
  });

  it('takes a count, and 0 to turn the sticky cache off', () => {
    expect(parseConfig({ WORKER_MAX_CACHED_WORKFLOWS: '2000' }).temporal.maxCachedWorkflows).toBe(2000);
    expect(parseConfig({ WORKER_MAX_CACHED_WORKFLOWS: '0' }).temporal.maxCachedWorkflows).toBe(0);
  });

  it('names the variable when the value is not a whole count', () => {
    for (const bad of ['-1', 'many', '1.5', '100001']) {
      expect(() => parseConfig({ WORKER_MAX_CACHED_WORKFLOWS: bad })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
    }
  });
});
