import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeResultFile } from '../src/db/batch-requests.js';
import { insertFile, readFileChunks } from '../src/db/files.js';
import { createBatch, fileLines, finishedBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const N = 600;
/** About 5 KiB of text with two-, three- and four-byte characters: the output spans several 1 MiB chunks. */
const contentOf = (i: number) => `${i} ${'é✓🙂 '.repeat(400)}`;
const failsAt = (i: number) => i % 5 === 0;

async function downloaded(fileId: string): Promise<Buffer> {
  const res = await h.api(`/v1/files/${fileId}/content`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function storedChunks(fileId: string): Promise<{ seq: number; data: Buffer }[]> {
  const { rows } = await h.pool.query<{ seq: number; data: Buffer }>(`SELECT seq, data FROM file_chunks WHERE file_id = $1 ORDER BY seq`, [fileId]);
  return rows;
}

describe('output and error files larger than one stored chunk', () => {
  let batchId: string;
  let outputFileId: string;

  it('hold every result line whole and in input order, multi-byte text intact, with the size the file object reports', async () => {
    const jsonl = chatLines(N, (i) => ({ messages: [{ role: 'user', content: contentOf(i) }], ...(failsAt(i) ? { echo_status: 400 } : {}) }));
    const batch = await finishedBatch(h, (await createBatch(h, jsonl)).id);
    batchId = batch.id;
    const failed = Array.from({ length: N }, (_, i) => i).filter(failsAt);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: N, completed: N - failed.length, failed: failed.length });

    outputFileId = batch.output_file_id!;
    const output = await fileLines<{ choices: { message: { content: string } }[] }>(h, outputFileId);
    const completedLines = Array.from({ length: N }, (_, i) => i).filter((i) => !failsAt(i));
    expect(output.map((l) => l.custom_id)).toEqual(completedLines.map((i) => `req-${i}`));
    output.forEach((line, k) => expect(line.response!.body.choices[0]!.message.content).toContain(contentOf(completedLines[k]!)));
    const errors = await fileLines(h, batch.error_file_id!);
    expect(errors.map((l) => l.custom_id)).toEqual(failed.map((i) => `req-${i}`));
    expect(errors.every((l) => l.response?.status_code === 400)).toBe(true);

    for (const fileId of [outputFileId, batch.error_file_id!]) {
      const bytes = await downloaded(fileId);
      expect(((await (await h.api(`/v1/files/${fileId}`)).json()) as { bytes: number }).bytes).toBe(bytes.length);
      const chunks = await storedChunks(fileId);
      // Numbered from 0 without gaps, and no line is cut between two chunks.
      expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, k) => k));
      for (const chunk of chunks) expect(chunk.data.at(-1)).toBe(0x0a);
      expect(Buffer.concat(chunks.map((c) => c.data)).equals(bytes)).toBe(true);
    }
    expect((await storedChunks(outputFileId)).length).toBeGreaterThanOrEqual(3);
  });

  it('writes the same bytes whatever the chunk size, even when one line is longer than a chunk', async () => {
    const expected = await downloaded(outputFileId);
    for (const chunkBytes of [1_000, 64 * 1024]) {
      const fileId = `file-test-${chunkBytes}-${batchId}`;
      await insertFile(h.pool, { id: fileId, owner: 'test-owner', purpose: 'batch_output', filename: 'x.jsonl', expiresAfterSeconds: null });
      const bytes = await writeResultFile(h.pool, batchId, 'completed', fileId, chunkBytes);
      expect(bytes).toBe(expected.length);
      const chunks: Buffer[] = [];
      for await (const chunk of readFileChunks(h.pool, fileId)) chunks.push(chunk);
      expect(Buffer.concat(chunks).equals(expected)).toBe(true);
      const stored = await storedChunks(fileId);
      expect(stored.map((c) => c.seq)).toEqual(stored.map((_, k) => k));
      // Every line here is longer than 1,000 bytes: one line per chunk; at 64 KiB, several.
      const lines = expected.toString('utf8').trimEnd().split('\n').length;
      if (chunkBytes === 1_000) expect(stored.length).toBe(lines);
      else expect(stored.length).toBeLessThan(lines / 10);
    }
  });

  it('writes nothing for a state no row is in', async () => {
    const fileId = `file-test-empty-${batchId}`;
    await insertFile(h.pool, { id: fileId, owner: 'test-owner', purpose: 'batch_output', filename: 'x.jsonl', expiresAfterSeconds: null });
    await h.pool.query(`UPDATE batch_requests SET state = 'completed' WHERE batch_id = $1 AND state = 'failed'`, [batchId]);
    expect(await writeResultFile(h.pool, batchId, 'failed', fileId, 1024 * 1024)).toBe(0);
    expect(await storedChunks(fileId)).toEqual([]);
  });
});
