import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, call, expectError, getBatch, type BatchObject } from './support/api-client.js';
import { batchOutcome, createBatch, deliveryResult, fileLines, finishedBatch } from './support/batches.js';
import { BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

let h: Harness;
beforeAll(async () => {
  // Six attempts per request: `echo_fail_first: 6` fails every attempt of the first batch and none of a retry's.
  h = await startHarness({ UPSTREAM_MAX_RETRIES: '5' });
});
afterAll(async () => {
  await h?.close();
});

const retryFailed = (id: string, json?: unknown, key?: string) => h.api(`/v1/batches/${id}/retry_failed`, { method: 'POST', json, key });

/** Text content of a file, one parsed JSON value per line. */
async function inputLines(fileId: string): Promise<{ custom_id: string; method: string; url: string; body: Record<string, unknown> }[]> {
  const res = await h.api(`/v1/files/${fileId}/content`);
  expect(res.status).toBe(200);
  return (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** One chat request per line, each with its own prompt (the echo keys injected failures by body). */
const request = (customId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'echo', messages: [{ role: 'user', content: `retry ${customId} ${Math.random()}` }], ...extra } });

const BATCH_EVENTS = (received: { body: string }[], batchId: string) =>
  received.map((r) => JSON.parse(r.body) as { type: string; data: BatchObject }).filter((e) => e.data.id === batchId).map((e) => e.type);

describe('POST /v1/batches/{id}/retry_failed', () => {
  it('retries only the retryable failures, with their custom_id and body, linked both ways; its webhook fires once', async () => {
    const receiver = await startWebhookReceiver();
    const lines = [
      request('ok'),
      request('bad-request', { echo_status: 400 }),
      request('overloaded', { echo_fail_first: 6 }),
      request('rate-limited', { echo_fail_first: 6, echo_fail_status: 429 }),
      request('not-found', { echo_status: 404 }),
      request('timed-out', { echo_fail_first: 1, echo_fail_status: 408 }),
      request('conflict', { echo_fail_first: 1, echo_fail_status: 409 }),
    ];
    const original = await finishedBatch(h, (await createBatch(h, lines.join('\n'), { webhook: { url: receiver.url }, metadata: { team: 'search' } })).id);
    expect(original.request_counts).toEqual({ total: 7, completed: 1, failed: 6 });
    expect((await deliveryResult(h, original.id, 'completed')).status).toBe('delivered');

    const res = await retryFailed(original.id);
    expect(res.status).toBe(200);
    const retry = await bodyOf<BatchObject>(res);
    expect(retry).toMatchObject({
      object: 'batch',
      status: 'validating',
      endpoint: '/v1/chat/completions',
      retried_from: original.id,
      retries: [],
      metadata: { team: 'search' },
      webhook: { url: receiver.url, events: original.webhook!.events, max_retries: original.webhook!.max_retries, has_secret: false },
    });
    expect(retry.id).not.toBe(original.id);
    expect(retry.input_file_id).not.toBe(original.input_file_id);

    // The new input file: the retryable lines, in order, exactly as they were uploaded.
    const retried = ['overloaded', 'rate-limited', 'timed-out', 'conflict'];
    const uploaded = new Map(lines.map((l) => [JSON.parse(l).custom_id as string, JSON.parse(l)]));
    expect(await inputLines(retry.input_file_id)).toEqual(retried.map((id) => uploaded.get(id)));

    const done = await finishedBatch(h, retry.id);
    expect(done).toMatchObject({ status: 'completed', model: 'echo', retried_from: original.id, request_counts: { total: 4, completed: 4, failed: 0 } });
    expect((await fileLines(h, done.output_file_id!)).map((l) => l.custom_id)).toEqual(retried);
    expect((await getBatch(h, original.id)).retries).toEqual([retry.id]);

    // One webhook for the retry's end, and the original's was not sent again.
    expect(await deliveryResult(h, retry.id, 'completed')).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(BATCH_EVENTS(receiver.received, retry.id)).toEqual(['batch.completed']);
    expect(BATCH_EVENTS(receiver.received, original.id)).toEqual(['batch.completed']);
    const event = receiver.received.map((r) => JSON.parse(r.body)).find((e) => e.data.id === retry.id);
    expect(event.data).toMatchObject({ retried_from: original.id, status: 'completed' });
    await receiver.close();
  });

  it('takes metadata and webhook from the body instead, and lists every retry oldest first', async () => {
    const original = await finishedBatch(h, (await createBatch(h, [request('a', { echo_fail_first: 6 }), request('b')].join('\n'), { metadata: { run: '1' } })).id);
    const first = await bodyOf<BatchObject>(await retryFailed(original.id, { metadata: { run: '2' }, webhook: null }));
    expect(first).toMatchObject({ retried_from: original.id, metadata: { run: '2' }, webhook: null, request_counts: { total: 0 } });
    await batchOutcome(h, first.id);
    // The original can be retried again: its own error file has not changed.
    const second = await bodyOf<BatchObject>(await retryFailed(original.id, { metadata: null }));
    expect(second).toMatchObject({ retried_from: original.id, metadata: null });
    await batchOutcome(h, second.id);
    expect((await getBatch(h, original.id)).retries).toEqual([first.id, second.id]);
    // The first retry completed everything: nothing of its own to retry.
    await expectError(await retryFailed(first.id), 409, { code: 'no_retryable_requests', param: 'id' });
  });

  it('runs again the requests of a batch cancelled before they ran', async () => {
    let id!: string;
    await h.stopWorker();
    try {
      id = (await createBatch(h, chatLines(6))).id;
      expect((await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    } finally {
      await h.startWorker();
    }
    const cancelled = await finishedBatch(h, id);
    expect(cancelled).toMatchObject({ status: 'cancelled', request_counts: { total: 6, completed: 0, failed: 6 } });
    const retry = await bodyOf<BatchObject>(await retryFailed(id));
    const done = await finishedBatch(h, retry.id);
    expect(done).toMatchObject({ status: 'completed', model: 'echo', request_counts: { total: 6, completed: 6, failed: 0 } });
    expect(done.usage.total_tokens).toBe(6 * 4);
  });

  it('refuses a batch that is not finished (409), has nothing to retry (409), is someone else\'s (404) or a body it does not know (400)', async () => {
    const running = (await createBatch(h, chatLines(2, () => ({ echo_delay_ms: 600_000 })))).id;
    await expectError(await retryFailed(running), 409, { code: 'batch_not_finished', param: 'id' });
    await call(h, `/v1/batches/${running}/cancel`, { method: 'POST' });
    await batchOutcome(h, running);

    const permanent = await finishedBatch(h, (await createBatch(h, [request('x', { echo_status: 400 }), request('y')].join('\n'))).id);
    expect(permanent.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const nothing = await expectError(await retryFailed(permanent.id), 409, { code: 'no_retryable_requests', param: 'id' });
    expect(nothing.message).toContain('no request worth retrying');
    const invalid = await finishedBatch(h, (await createBatch(h, '{not json')).id);
    await expectError(await retryFailed(invalid.id), 409, { code: 'no_retryable_requests' });

    await expectError(await retryFailed(running, undefined, BOB_KEY), 404, { code: 'not_found', param: 'id' });
    await expectError(await retryFailed('batch_doesnotexist'), 404, { code: 'not_found' });
    await expectError(await retryFailed(running, { endpoint: '/v1/embeddings' }), 400, { param: null });
    await expectError(await retryFailed(running, { metadata: { n: 1 } }), 400, { param: 'metadata.n' });
    // Nothing above created a batch.
    expect((await getBatch(h, running)).retries).toEqual([]);
    expect((await getBatch(h, permanent.id)).retries).toEqual([]);
  });

  it('replays the same Idempotency-Key with the same retry', async () => {
    const original = await finishedBatch(h, (await createBatch(h, request('again', { echo_fail_first: 6 }))).id);
    const key = `retry-${original.id}`;
    const first = await h.api(`/v1/batches/${original.id}/retry_failed`, { method: 'POST', headers: { 'idempotency-key': key } });
    expect(first.status).toBe(200);
    const again = await h.api(`/v1/batches/${original.id}/retry_failed`, { method: 'POST', headers: { 'idempotency-key': key } });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const [a, b] = [await bodyOf<BatchObject>(first), await bodyOf<BatchObject>(again)];
    expect(b.id).toBe(a.id);
    await batchOutcome(h, a.id);
    expect((await getBatch(h, original.id)).retries).toEqual([a.id]);
  });
});
