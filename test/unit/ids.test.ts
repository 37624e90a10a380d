import { describe, expect, it } from 'vitest';
import { newId } from '../../src/shared/ids.js';

describe('newId', () => {
  it('gives OpenAI-shaped ids: prefix, separator, 24 base62 characters', () => {
    expect(newId('batch')).toMatch(/^batch_[A-Za-z0-9]{24}$/);
    expect(newId('file', '-')).toMatch(/^file-[A-Za-z0-9]{24}$/);
  });

  it('never repeats, across many refills of its random pool', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('batch_req'));
    expect(new Set(ids).size).toBe(ids.length);
    // Every character position varies: no slice of the pool is reused.
    for (let i = 0; i < 24; i++) expect(new Set(ids.map((id) => id.at(-24 + i))).size).toBeGreaterThan(50);
  });
});
