import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retentionCleanupWorkflow } from '../src/workflows/retention-cleanup-workflow.js';
import { bodyOf, call, expectError, listFiles, type BatchObject, type FileObject } from './support/api-client.js';
import { finishedBatch } from './support/batches.js';
import { ALICE_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const DAY = 86_400;

function form(fields: Record<string, string>, content = chatLines(1)) {
  const f = new FormData();
  f.append('purpose', 'batch');
  for (const [name, value] of Object.entries(fields)) f.append(name, value);
  f.append('file', new Blob([content]), 'in.jsonl');
  return f;
}

const upload = (fields: Record<string, string>) => h.api('/v1/files', { method: 'POST', body: form(fields) });

const createBatch = (json: Record<string, unknown>) => h.api('/v1/batches', { method: 'POST', json: { endpoint: '/v1/chat/completions', completion_window: '24h', ...json } });

/** Runs one clean-up on the test's worker, as the schedule would. */
const runCleanup = () =>
  h.env.client.workflow.execute(retentionCleanupWorkflow, { taskQueue: h.config.temporal.taskQueue, workflowId: `retention-cleanup-${Math.random().toString(36).slice(2)}` });

const chunkCount = async (fileId: string) =>
  (await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM file_chunks WHERE file_id = $1::text`, [fileId])).rows[0]!.n;

/** Moves the file's expiry into the past, as if its time had come. */
const expire = (fileId: string) => h.pool.query(`UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1::text`, [fileId]);

describe('POST /v1/files with expires_after', () => {
  it('refuses every expiry OpenAI refuses, naming the param, and stores nothing', async () => {
    const before = (await listFiles(h)).data.length;
    const cases: [Record<string, string>, string, string][] = [
      [{ 'expires_after[anchor]': 'last_active_at', 'expires_after[seconds]': '3600' }, 'expires_after.anchor', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '3599' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '2592001' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '0' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '-3600' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '3600.5' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': 'an hour' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '' }, 'expires_after.seconds', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at' }, 'expires_after.seconds', 'missing_required_parameter'],
      [{ 'expires_after[seconds]': '3600' }, 'expires_after.anchor', 'missing_required_parameter'],
      [{ 'expires_after[seconds]': '3600', 'expires_after[anchor]': 'CREATED_AT' }, 'expires_after.anchor', 'invalid_value'],
      [{ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '3600', 'expires_after[unit]': 's' }, 'expires_after', 'invalid_value'],
      [{ expires_after: '{"anchor":"created_at","seconds":3600}' }, 'expires_after', 'invalid_value'],
    ];
    for (const [fields, param, code] of cases) {
      const error = await expectError(await upload(fields), 400, { param, code });
      expect(error.message, JSON.stringify(fields)).toContain(param.includes('.') ? param.split('.')[1]! : 'expires_after');
    }
    expect((await listFiles(h)).data.length).toBe(before);
  });

  it('sets expires_at from created_at: the given seconds, or 30 days for a batch file by default', async () => {
    for (const seconds of [3600, 2_592_000]) {
      const res = await upload({ 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': String(seconds) });
      const file = await bodyOf<FileObject>(res);
      expect(res.status, JSON.stringify(file)).toBe(200);
      expect(file.expires_at).toBe(file.created_at + seconds);
      expect(await call<FileObject>(h, `/v1/files/${file.id}`)).toEqual(file);
    }
    const plain = await bodyOf<FileObject>(await upload({}));
    expect(plain.expires_at).toBe(plain.created_at + 30 * DAY);
  });

  it('takes the official client’s expires_after', async () => {
    const client = new OpenAI({
      apiKey: ALICE_KEY,
      baseURL: 'http://service.test/v1',
      maxRetries: 0,
      fetch: async (url, init) => h.app.request(String(url), init),
    });
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatLines(1)), 'sdk.jsonl'),
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    expect(file.expires_at).toBe(file.created_at + 7200);
    await expect(
      client.files.create({ file: await toFile(Buffer.from(chatLines(1)), 'sdk.jsonl'), purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 60 } }),
    ).rejects.toMatchObject({ status: 400, param: 'expires_after.seconds' });
  });
});

describe('POST /v1/batches with output_expires_after', () => {
  it('refuses every policy OpenAI refuses, naming the param', async () => {
    const input_file_id = await h.upload(chatLines(1));
    const cases: [unknown, string][] = [
      [{ anchor: 'completed_at', seconds: 3600 }, 'output_expires_after.anchor'],
      [{ seconds: 3600 }, 'output_expires_after.anchor'],
      [{ anchor: 'created_at' }, 'output_expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 3599 }, 'output_expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 2_592_001 }, 'output_expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 3600.5 }, 'output_expires_after.seconds'],
      [{ anchor: 'created_at', seconds: '3600' }, 'output_expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 3600, extra: 1 }, 'output_expires_after'],
      [null, 'output_expires_after'],
      ['3600', 'output_expires_after'],
    ];
    for (const [policy, param] of cases) {
      await expectError(await createBatch({ input_file_id, output_expires_after: policy }), 400, { param, code: 'invalid_value' });
    }
  });

  it('gives the output and error files an expiry anchored at their own creation; without it they are kept', async () => {
    const input_file_id = await h.upload(chatLines(3, (i) => (i === 0 ? { echo_status: 400 } : {})));
    const res = await createBatch({ input_file_id, output_expires_after: { anchor: 'created_at', seconds: 7200 } });
    const created = await bodyOf<BatchObject>(res);
    expect(res.status, JSON.stringify(created)).toBe(200);
    const batch = await finishedBatch(h, created.id);
    expect(batch.output_file_id).not.toBeNull();
    expect(batch.error_file_id).not.toBeNull();
    for (const id of [batch.output_file_id!, batch.error_file_id!]) {
      const file = await call<FileObject>(h, `/v1/files/${id}`);
      expect(file.created_at).toBeGreaterThanOrEqual(batch.created_at);
      expect(file.expires_at).toBe(file.created_at + 7200);
    }

    const kept = await finishedBatch(h, (await bodyOf<BatchObject>(await createBatch({ input_file_id: await h.upload(chatLines(1)) }))).id);
    expect((await call<FileObject>(h, `/v1/files/${kept.output_file_id}`)).expires_at).toBeNull();
  });
});

describe('an expired file', () => {
  it('is gone at once for every reader, and its content rows are deleted by the clean-up', async () => {
    const fileId = await h.upload(chatLines(2));
    const other = await h.upload(chatLines(2));
    expect(await chunkCount(fileId)).toBeGreaterThan(0);
    await expire(fileId);

    await expectError(await h.api(`/v1/files/${fileId}`), 404, { code: 'not_found' });
    await expectError(await h.api(`/v1/files/${fileId}/content`), 404, { code: 'not_found' });
    await expectError(await h.api(`/v1/files/${fileId}`, { method: 'DELETE' }), 404, { code: 'not_found' });
    const listed = (await listFiles(h)).data.map((f) => f.id);
    expect(listed).not.toContain(fileId);
    expect(listed).toContain(other);
    await expectError(await createBatch({ input_file_id: fileId }), 400, { param: 'input_file_id', code: 'file_not_found' });

    await runCleanup();
    expect(await chunkCount(fileId)).toBe(0);
    expect((await h.pool.query(`SELECT 1 FROM files WHERE id = $1::text`, [fileId])).rowCount).toBe(0);
    // A file that has not expired keeps its content.
    expect(await chunkCount(other)).toBeGreaterThan(0);
    expect((await h.api(`/v1/files/${other}/content`)).status).toBe(200);
  });

  it('is left in place while a batch is still validating from it, though hidden', async () => {
    const fileId = await h.upload(chatLines(2));
    const batchId = `batch_validating_${Math.random().toString(36).slice(2)}`;
    // A batch still reading its input, arranged directly: no workflow is needed for the clean-up to see it.
    await h.pool.query(
      `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, expires_at)
       SELECT $1::text, owner, '/v1/chat/completions', id, '24h', 'validating', now() + interval '1 day' FROM files WHERE id = $2::text`,
      [batchId, fileId],
    );
    await expire(fileId);
    await runCleanup();
    expect(await chunkCount(fileId)).toBeGreaterThan(0);
    await expectError(await h.api(`/v1/files/${fileId}/content`), 404, { code: 'not_found' });

    await h.pool.query(`UPDATE batches SET status = 'failed', failed_at = now() WHERE id = $1::text`, [batchId]);
    await runCleanup();
    expect(await chunkCount(fileId)).toBe(0);
  });

  it('that is a batch output is gone too, while the batch still names it', async () => {
    const input_file_id = await h.upload(chatLines(1));
    const created = await bodyOf<BatchObject>(await createBatch({ input_file_id, output_expires_after: { anchor: 'created_at', seconds: 3600 } }));
    const batch = await finishedBatch(h, created.id);
    await expire(batch.output_file_id!);
    await expectError(await h.api(`/v1/files/${batch.output_file_id}/content`), 404, { code: 'not_found' });
    expect((await call<BatchObject>(h, `/v1/batches/${batch.id}`)).output_file_id).toBe(batch.output_file_id);
  });
});
