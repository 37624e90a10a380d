import { describe, expect, it } from 'vitest';
import { resultLine } from '../../src/activities/process-request-range.js';

const ok = (raw: string) => ({ ok: true as const, statusCode: 200, requestId: 'req_1', body: JSON.parse(raw) as unknown, attempts: 1 });

describe('output and error file lines', () => {
  it('writes a success as one OpenAI-shaped JSON line', () => {
    const line = resultLine('req-"7"', ok('{"id":"chatcmpl-1","choices":[{"message":{"content":"caf\\u00e9\\n"}}]}'));
    expect(line.split('\n')).toHaveLength(1);
    const parsed = JSON.parse(line);
    expect(parsed).toMatchObject({ custom_id: 'req-"7"', error: null, response: { status_code: 200, request_id: 'req_1' } });
    expect(parsed.response.body.choices[0].message.content).toBe('café\n');
    expect(parsed.id).toMatch(/^batch_req_/);
  });

  it('writes permanent failures with the upstream status, body and error', () => {
    const line = resultLine('b', { ok: false, statusCode: 400, requestId: 'req_2', body: { error: { message: 'bad' } }, error: { code: 'upstream_error', message: 'upstream answered 400' }, attempts: 1 });
    expect(JSON.parse(line)).toMatchObject({ custom_id: 'b', response: { status_code: 400, body: { error: { message: 'bad' } } }, error: { code: 'upstream_error' } });
    const unreachable = resultLine('c', { ok: false, statusCode: null, body: null, error: { code: 'connection_error', message: 'refused' }, attempts: 6 });
    expect(JSON.parse(unreachable)).toMatchObject({ response: null, error: { code: 'connection_error' } });
  });
});
