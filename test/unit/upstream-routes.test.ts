import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { findRoutePattern } from '../../src/upstream/upstream-router.js';

describe('UPSTREAM_ROUTES', () => {
  it('parses routes in the order written, each falling back to the UPSTREAM_* tuning', () => {
    const config = parseConfig({
      UPSTREAM_CONCURRENCY: '8',
      UPSTREAM_ROUTES: JSON.stringify({
        'llama-3*': { base_url: 'http://vllm-llama:8000/', api_key: 'sk-llama-123', concurrency: 64 },
        '*': { base_url: 'https://api.example.com/v1', max_retries: 0 },
      }),
    });
    expect(config.upstream.routes).toEqual([
      { pattern: 'llama-3*', baseUrl: 'http://vllm-llama:8000', apiKey: 'sk-llama-123', concurrency: 64, timeoutMs: 600_000, maxRetries: 5, retryBaseMs: 500, retryMaxMs: 30_000, pauseAfterFailures: 5 },
      { pattern: '*', baseUrl: 'https://api.example.com/v1', apiKey: undefined, concurrency: 8, timeoutMs: 600_000, maxRetries: 0, retryBaseMs: 500, retryMaxMs: 30_000, pauseAfterFailures: 5 },
    ]);
    expect(parseConfig({}).upstream.routes).toEqual([]);
  });

  it.each([
    ['not json', /UPSTREAM_ROUTES: expected a JSON object/],
    ['[]', /UPSTREAM_ROUTES: expected a non-empty JSON object/],
    ['{}', /UPSTREAM_ROUTES: expected a non-empty JSON object/],
    ['{"llama": {}}', /UPSTREAM_ROUTES: route "llama": base_url: /],
    ['{"llama": {"base_url": "ftp://x"}}', /UPSTREAM_ROUTES: route "llama": base_url: must be an http\(s\) URL/],
    ['{"llama": {"base_url": "http://x", "concurrency": 0}}', /UPSTREAM_ROUTES: route "llama": concurrency: /],
    ['{"llama": {"base_url": "http://x", "apikey": "sk-secret-value"}}', /UPSTREAM_ROUTES: route "llama": unknown field\(s\) apikey$/],
    ['{"bad model!": {"base_url": "http://x"}}', /UPSTREAM_ROUTES: route "bad model!": a model name or glob/],
  ])('refuses %s with a message naming the variable and the route', (value, message) => {
    expect(() => parseConfig({ UPSTREAM_ROUTES: value })).toThrow(ConfigError);
    expect(() => parseConfig({ UPSTREAM_ROUTES: value })).toThrow(message);
  });

  it('never repeats a value in its error (a value may be a key)', () => {
    expect(() => parseConfig({ UPSTREAM_ROUTES: '{"m": {"base_url": "http://x", "api_key": 42}}' })).toThrow(/route "m": api_key: /);
    try {
      parseConfig({ UPSTREAM_ROUTES: '{"m": {"base_url": "sk-secret-not-a-url"}}' });
    } catch (err) {
      expect(String(err)).not.toContain('sk-secret-not-a-url');
    }
  });
});

describe('choosing a route for a model', () => {
  const patterns = ['llama-3*', 'llama-3.1-70b', 'mistral-?b', '*'];
  it.each([
    ['llama-3.1-70b', 1], // an exact name wins over an earlier glob
    ['llama-3.1-8b', 0],
    ['mistral-7b', 2],
    ['mistral-70b', 3],
    ['gpt-4o', 3],
    [null, 3],
  ] as const)('%s → route %i', (model, index) => {
    expect(findRoutePattern(patterns, model)).toBe(index);
  });

  it('finds no route when none matches and there is no catch-all', () => {
    expect(findRoutePattern(['llama-3*'], 'gpt-4o')).toBe(-1);
    expect(findRoutePattern(['llama.3'], 'llama-3')).toBe(-1); // `.` is literal
    expect(findRoutePattern([], 'x')).toBe(-1);
  });
});
