import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchWorkflowId } from '../src/workflows/workflow-ids.js';
import { bodyOf, getBatch, listBatches, type BatchObject } from './support/api-client.js';
import { fileLines, finishedBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function createBatch(inputFileId: string, extra: Record<string, unknown> = {}, key?: string) {
  const res = await h.api('/v1/batches', {
    method: 'POST',
    json: { input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...extra },
    key,
  });
  // Typed as a batch: the one caller expecting an error reads only the status.
  return { status: res.status, body: await bodyOf<BatchObject>(res) };
}

const finish = (batchId: string) => finishedBatch(h, batchId);

describe('a batch from upload to output file', () => {
  it('runs every request and writes an OpenAI-shaped output file', async () => {
    const fileId = await h.upload(chatLines(12));
    const created = await createBatch(fileId, { metadata: { project: 'demo' } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions', metadata: { project: 'demo' } });

    const batch = await finish(created.body.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 12, completed: 12, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    for (const stamp of ['in_progress_at', 'finalizing_at', 'completed_at'] as const) expect(batch[stamp]).toEqual(expect.any(Number));

    const lines = await fileLines<OpenAI.ChatCompletion>(h, batch.output_file_id!);
    expect(lines.map((l) => l.custom_id)).toEqual(Array.from({ length: 12 }, (_, i) => `req-${i}`));
    expect(lines[3]).toMatchObject({ custom_id: 'req-3', error: null, response: { status_code: 200 } });
    expect(lines[3]!.response!.body.choices[0]!.message.content).toContain('hello 3');
  });

  it('puts permanent upstream errors in the error file with the upstream status and body', async () => {
    const fileId = await h.upload(chatLines(4, (i) => (i === 1 ? { echo_status: 400 } : {})));
    const batch = await finish((await createBatch(fileId)).body.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 4, completed: 3, failed: 1 });
    const errors = await fileLines(h, batch.error_file_id!);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ custom_id: 'req-1', response: { status_code: 400 } });
    expect(errors[0]!.error!.code).toEqual(expect.any(String));
  });

  it('retries transient upstream 503s and still completes every request', async () => {
    const fileId = await h.upload(chatLines(6, (i) => (i % 2 === 0 ? { echo_fail_first: 2 } : {})));
    const batch = await finish((await createBatch(fileId)).body.id);
    expect(batch.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
  });

  it('fails validation with line-numbered, OpenAI-shaped errors and runs nothing', async () => {
    const lines = [
      chatLines(1),
      '{not json',
      JSON.stringify({ custom_id: 'req-0', method: 'POST', url: '/v1/chat/completions', body: {} }),
      JSON.stringify({ custom_id: 'x', method: 'GET', url: '/v1/chat/completions', body: {} }),
      JSON.stringify({ custom_id: 'y', method: 'POST', url: '/v1/embeddings', body: {} }),
    ].join('\n');
    const before = h.echo.stats().requests;
    const batch = await finish((await createBatch(await h.upload(lines))).body.id);
    expect(batch.status).toBe('failed');
    expect(batch.failed_at).toEqual(expect.any(Number));
    expect(batch.errors!.object).toBe('list');
    expect(batch.errors!.data.map((e) => [e.code, e.line])).toEqual([
      ['invalid_json_line', 2],
      ['duplicate_custom_id', 3],
      ['invalid_method', 4],
      ['mismatched_endpoint', 5],
    ]);
    expect(h.echo.stats().requests).toBe(before);
  });

  it('lists batches newest first with cursor pagination, scoped to the owner', async () => {
    const fileId = await h.upload(chatLines(1));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createBatch(fileId)).body.id);
    const page1 = await listBatches(h, '?limit=2');
    expect(page1).toMatchObject({ object: 'list', has_more: true });
    expect(page1.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    const page2 = await listBatches(h, `?limit=2&after=${page1.last_id}`);
    expect(page2.data[0]!.id).toBe(ids[0]);

    const bob = await listBatches(h, '', 'sk-bob-test-key');
    expect(bob.data).toEqual([]);
    expect((await h.api(`/v1/batches/${ids[0]}`, { key: 'sk-bob-test-key' })).status).toBe(404);
    expect((await createBatch(fileId, {}, 'sk-bob-test-key')).status).toBe(400);
    for (const id of ids) await finish(id);
  });

  it('returns the same batch for a repeated Idempotency-Key and rejects a different body', async () => {
    const fileId = await h.upload(chatLines(1));
    const send = (body: Record<string, unknown>) =>
      h.api('/v1/batches', {
        method: 'POST',
        headers: { 'idempotency-key': 'key-123' },
        json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...body },
      });
    const first = await bodyOf<BatchObject>(await send({}));
    const again = await send({});
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await bodyOf<BatchObject>(again)).id).toBe(first.id);
    const conflict = await send({ metadata: { other: 'body' } });
    expect(conflict.status).toBe(409);
    await finish(first.id);
  });

  it('treats a workflow cancelled from the Temporal UI or CLI like a user cancel', async () => {
    const fileId = await h.upload(chatLines(10, () => ({ echo_delay_ms: 1000 })));
    const { body } = await createBatch(fileId);
    const handle = h.env.client.workflow.getHandle(batchWorkflowId(body.id));
    while ((await getBatch(h, body.id)).status !== 'in_progress') {
      await new Promise((r) => setTimeout(r, 50));
    }
    await handle.cancel();
    expect(await handle.result()).toBe('cancelled');
    const batch = await getBatch(h, body.id);
    expect(batch.status).toBe('cancelled');
    expect(batch.cancelled_at).toEqual(expect.any(Number));
    expect(batch.request_counts.completed + batch.request_counts.failed).toBe(10);
  });
});
