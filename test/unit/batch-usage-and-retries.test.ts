import { describe, expect, it } from 'vitest';
import { resultLine } from '../../src/activities/process-request-range.js';
import { isRetryableErrorLine } from '../../src/batches/retryable-failure.js';
import { usageOfResponse } from '../../src/batches/request-usage.js';
import { parseConfig } from '../../src/config.js';

describe('usage of an upstream answer, mapped as OpenAI maps it', () => {
  it('chat/completions: prompt and completion tokens with their details', () => {
    const body = {
      usage: {
        prompt_tokens: 120,
        completion_tokens: 30,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 100, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 12, audio_tokens: 0 },
      },
    };
    expect(usageOfResponse(body)).toEqual({ inputTokens: 120, outputTokens: 30, totalTokens: 150, cachedTokens: 100, reasoningTokens: 12 });
  });

  it('completions without details count no cached or reasoning tokens', () => {
    expect(usageOfResponse({ usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } })).toEqual({
      inputTokens: 3,
      outputTokens: 4,
      totalTokens: 7,
      cachedTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('responses: input and output tokens with their details', () => {
    const body = { usage: { input_tokens: 9, input_tokens_details: { cached_tokens: 2 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 14 } };
    expect(usageOfResponse(body)).toEqual({ inputTokens: 9, outputTokens: 5, totalTokens: 14, cachedTokens: 2, reasoningTokens: 3 });
  });

  it('embeddings: prompt and total tokens only', () => {
    expect(usageOfResponse({ usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({ inputTokens: 8, outputTokens: 0, totalTokens: 8, cachedTokens: 0, reasoningTokens: 0 });
  });

  it('nothing for an answer without usage (moderations) and ignores counts that are no counts', () => {
    expect(usageOfResponse({ id: 'modr-1', results: [] })).toBeNull();
    expect(usageOfResponse('plain text')).toBeNull();
    expect(usageOfResponse({ usage: { prompt_tokens: -1, completion_tokens: 'many' } })).toBeNull();
    // A missing total is the sum; a count beyond Postgres' integer is capped.
    expect(usageOfResponse({ usage: { prompt_tokens: 2, completion_tokens: 1.5 } })).toMatchObject({ inputTokens: 2, outputTokens: 0, totalTokens: 2 });
    expect(usageOfResponse({ usage: { prompt_tokens: 1e12, total_tokens: 1e12 } })).toMatchObject({ inputTokens: 2_147_483_647 });
  });
});

describe('which error-file lines retry_failed sends again', () => {
  const failure = (statusCode: number | null, code = 'upstream_error') =>
    resultLine('r', { ok: false, statusCode, requestId: 'req_1', body: null, error: { code, message: 'x' }, attempts: 1 });
  const unexecuted = (code: string) => JSON.stringify({ id: 'batch_req_1', custom_id: 'r', response: null, error: { code, message: 'x' } });

  it.each([408, 409, 429, 500, 502, 503, 504])('retries an upstream %i', (status) => {
    expect(isRetryableErrorLine(failure(status))).toBe(true);
  });

  it.each([400, 401, 403, 404, 413, 422])('keeps an upstream %i: it would fail again', (status) => {
    expect(isRetryableErrorLine(failure(status))).toBe(false);
  });

  it('retries requests that got no answer or never ran', () => {
    expect(isRetryableErrorLine(failure(null, 'timeout'))).toBe(true);
    expect(isRetryableErrorLine(failure(null, 'connection_error'))).toBe(true);
    for (const code of ['batch_expired', 'batch_cancelled', 'request_not_executed']) expect(isRetryableErrorLine(unexecuted(code))).toBe(true);
    expect(isRetryableErrorLine(null)).toBe(true);
  });

  it('keeps anything else', () => {
    expect(isRetryableErrorLine(unexecuted('invalid_request'))).toBe(false);
    expect(isRetryableErrorLine('{not json')).toBe(false);
  });
});

describe('UPSTREAM_ENDPOINTS', () => {
  it("defaults to the text endpoints and takes any of OpenAI's batch endpoints", () => {
    expect(parseConfig({}).upstream.endpoints).toEqual(['/v1/responses', '/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/moderations']);
    expect(parseConfig({ UPSTREAM_ENDPOINTS: '/v1/chat/completions, /v1/images/generations' }).upstream.endpoints).toEqual([
      '/v1/chat/completions',
      '/v1/images/generations',
    ]);
  });

  it('names the variable and the unknown endpoint', () => {
    expect(() => parseConfig({ UPSTREAM_ENDPOINTS: '/v1/chat/completions,/v1/audio/speech' })).toThrow(
      /^invalid configuration: UPSTREAM_ENDPOINTS: .*not \/v1\/audio\/speech/,
    );
  });
});
