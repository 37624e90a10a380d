import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../src/activities/activity-deps.js';
import { storeRemainingRequests } from '../src/activities/store-remaining-requests.js';
import { createLogger } from '../src/shared/logger.js';
import { createBatch, fileLines, finishedBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

/**
 * The harness runs chunks of 5, four at a time: validation stores the first
 * 20 requests and storeRemainingRequests the rest while those chunks run.
 */
let h: Harness;
let deps: ActivityDeps;
beforeAll(async () => {
  h = await startHarness();
  deps = { pool: h.pool, log: createLogger('silent', 'test') } as ActivityDeps;
});
afterAll(async () => {
  await h?.close();
});

type StoredRow = { line: number; custom_id: string; body: string };
const storedRows = async (batchId: string) =>
  (await h.pool.query<StoredRow>(`SELECT line, custom_id, body FROM batch_requests WHERE batch_id = $1 ORDER BY line`, [batchId])).rows;

describe('requests stored while the first chunks run', () => {
  it('numbers requests as validation does: blank lines, CRLF and a byte order mark in the file change nothing', async () => {
    const lines = chatLines(120).split('\n');
    // Blank and whitespace-only lines before, inside and after both the stored-first window and the rest.
    const messy = lines.flatMap((line, i) => (i % 7 === 3 ? ['', line] : i % 11 === 5 ? ['   ', line] : [line])).join('\r\n');
    const batch = await finishedBatch(h, (await createBatch(h, `\uFEFF${messy}\r\n\r\n`)).id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 120, completed: 120, failed: 0 });
    const output = await fileLines<{ choices: { message: { content: string } }[] }>(h, batch.output_file_id!);
    expect(output.map((l) => l.custom_id)).toEqual(lines.map((_, i) => `req-${i}`));
    // Each answer is its own request's: line numbers and bodies stayed together.
    output.forEach((l, i) => expect(l.response!.body.choices[0]!.message.content).toContain(`hello ${i}`));
  });

  it('stores each remaining request once however often it runs, and refuses when the input file is gone', async () => {
    const batch = await finishedBatch(h, (await createBatch(h, chatLines(60))).id);
    const before = await storedRows(batch.id);
    expect(before).toHaveLength(60);

    // As if an attempt died after storing part of the rest: it runs again from the same line.
    await h.pool.query(`DELETE FROM batch_requests WHERE batch_id = $1 AND line >= 35`, [batch.id]);
    expect(await storeRemainingRequests(deps, { batchId: batch.id, fromLine: 20 })).toEqual({ stored: 40 });
    expect(await storeRemainingRequests(deps, { batchId: batch.id, fromLine: 20 })).toEqual({ stored: 40 });
    const after = await storedRows(batch.id);
    expect(after.map(({ line, custom_id, body }) => ({ line, custom_id, body }))).toEqual(before.map(({ line, custom_id, body }) => ({ line, custom_id, body })));

    expect((await h.api(`/v1/files/${batch.input_file_id}`, { method: 'DELETE' })).status).toBe(200);
    await expect(storeRemainingRequests(deps, { batchId: batch.id, fromLine: 20 })).rejects.toMatchObject({
      type: 'BatchDataError',
      nonRetryable: true,
      message: expect.stringContaining('was deleted before all of its requests were stored'),
    });
  });
});
