import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, getBatch, listFiles } from './support/api-client.js';
import { batchOutcome, createBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("OpenAI's batch limits", () => {
  it('fails a batch of more than 50,000 requests at validation, sending nothing upstream', async () => {
    const before = h.echo.stats().requests;
    const { id } = await createBatch(h, chatLines(50_001));
    expect(await batchOutcome(h, id)).toBe('failed');
    const batch = await getBatch(h, id);
    expect(batch.errors!.data).toEqual([expect.objectContaining({ code: 'too_many_requests', line: 50_001 })]);
    expect(batch.request_counts.total).toBe(0);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM batch_requests WHERE batch_id = $1', [id]);
    expect(rows[0].n).toBe(0);
    expect(h.echo.stats().requests).toBe(before);
  });

  it('refuses an input file over 200 MB with 413 and keeps nothing of it', async () => {
    const listBefore = (await listFiles(h)).data.length;
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([new Uint8Array(200 * 1024 * 1024 + 1).fill(0x20)]), 'huge.jsonl');
    const res = await h.api('/v1/files', { method: 'POST', body: form });
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toMatchObject({ code: 'file_too_large', param: 'file' });
    expect((await listFiles(h)).data.length).toBe(listBefore);
    const { rows } = await h.pool.query("SELECT count(*)::int AS n FROM files WHERE filename = 'huge.jsonl'");
    expect(rows[0].n).toBe(0);
  });
});
