import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { classifyActivityFailure } from '../../src/activities/batch-activities.js';
import { parseInputLine, splitLines } from '../../src/batches/input-lines.js';

/** An error shaped like pg's DatabaseError: a message and a SQLSTATE `code`. */
const pgError = (code: string) => Object.assign(new Error(`pg says ${code}`), { code, severity: 'ERROR' });

describe('which batch step failures are retried', () => {
  it.each([
    ['22021', 'invalid byte sequence (a NUL in text)'],
    ['22P05', 'untranslatable character (\\u0000 in jsonb)'],
    ['23505', 'unique violation'],
    ['23503', 'foreign key violation'],
  ])('SQLSTATE %s (%s) fails the batch: non-retryable', (code) => {
    const failure = classifyActivityFailure(pgError(code));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'BatchDataError', nonRetryable: true, message: expect.stringContaining(`SQLSTATE ${code}`) });
  });

  it.each([
    ['08006', 'connection failure'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['57014', 'statement timeout'],
    ['57P01', 'admin shutdown'],
    ['53300', 'too many connections'],
    ['ECONNREFUSED', 'Postgres unreachable'],
    ['ETIMEDOUT', 'network timeout'],
  ])('%s (%s) is infrastructure: left to retry', (code) => {
    const err = pgError(code);
    expect(classifyActivityFailure(err)).toBe(err);
  });

  it('leaves failures that already say what they are alone', () => {
    const failure = ApplicationFailure.create({ type: 'UnsupportedEndpoint', nonRetryable: true });
    expect(classifyActivityFailure(failure)).toBe(failure);
    const plain = new TypeError('x is undefined');
    expect(classifyActivityFailure(plain)).toBe(plain);
  });
});

describe('input lines Postgres could not store', () => {
  const line = (customId: string, content: string) =>
    JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/embeddings', body: { input: content } });

  it('refuses a NUL anywhere in the line, naming where', () => {
    expect(parseInputLine(line('a\u0000', 'x'), 4, '/v1/embeddings')).toMatchObject({ ok: false, error: { code: 'invalid_json_line', param: 'custom_id', line: 4 } });
    expect(parseInputLine(line('a', 'x\u0000'), 5, '/v1/embeddings')).toMatchObject({ ok: false, error: { code: 'invalid_json_line', param: 'body', line: 5 } });
  });

  it('accepts an escaped backslash followed by u0000, which is no NUL', () => {
    expect(parseInputLine(line('a', 'C:\\u0000'), 1, '/v1/embeddings')).toMatchObject({ ok: true });
  });
});

describe('splitting the input file into lines', () => {
  async function* chunks(...parts: (string | Buffer)[]) {
    for (const part of parts) yield Buffer.isBuffer(part) ? part : Buffer.from(part, 'utf8');
  }
  const collect = async (gen: AsyncIterable<string>) => {
    const out: string[] = [];
    for await (const l of gen) out.push(l);
    return out;
  };

  it('skips a UTF-8 byte order mark at the start only', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect(await collect(splitLines(chunks(Buffer.concat([bom, Buffer.from('{"a":1}\r\n')]), '\uFEFF{"b":2}')))).toEqual(['{"a":1}', '\uFEFF{"b":2}']);
  });
});
