import { readRequestPage } from '../db/batch-requests.js';
import { findBatchById, markFinalizing, markFinished, type FinalStatus } from '../db/batches.js';
import { ChunkedFileWriter } from '../db/chunked-file-writer.js';
import { deleteFileById, insertFile, setFileBytes } from '../db/files.js';
import { inTransaction } from '../db/pool.js';
import { newId } from '../shared/ids.js';
import type { ActivityDeps } from './activity-deps.js';

const PAGE_ROWS = 5_000;

const UNFINISHED_ERRORS: Record<Exclude<FinalStatus, 'completed'>, { code: string; message: string }> = {
  expired: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
  cancelled: { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' },
};

/**
 * Writes the output and error files and moves the batch to its final status,
 * in one transaction. File ids derive from the batch id, so a retried attempt
 * replaces what an earlier one wrote instead of adding a second file.
 */
export async function finalizeBatchFiles(
  { pool, log }: ActivityDeps,
  { batchId, status }: { batchId: string; status: FinalStatus },
): Promise<{ completed: number; failed: number }> {
  const batch = await findBatchById(pool, batchId);
  if (!batch) throw new Error(`batch ${batchId} not found`);
  if (status === 'completed') await markFinalizing(pool, batchId);

  const suffix = batchId.replace(/^batch_/, '');
  const outputFileId = `file-out-${suffix}`;
  const errorFileId = `file-err-${suffix}`;

  const counts = await inTransaction(pool, async (client) => {
    for (const id of [outputFileId, errorFileId]) await deleteFileById(client, id);
    await insertFile(client, { id: outputFileId, owner: batch.owner, purpose: 'batch_output', filename: `${batchId}_output.jsonl` });
    await insertFile(client, { id: errorFileId, owner: batch.owner, purpose: 'batch_output', filename: `${batchId}_error.jsonl` });
    const output = new ChunkedFileWriter(client, outputFileId);
    const errors = new ChunkedFileWriter(client, errorFileId);
    let completed = 0;
    let failed = 0;
    for (let afterLine = -1; ; ) {
      const page = await readRequestPage(client, batchId, afterLine, PAGE_ROWS);
      if (page.length === 0) break;
      for (const row of page) {
        if (row.state === 'completed') {
          completed += 1;
          await output.writeLine(row.result_line!);
        } else if (row.state === 'failed') {
          failed += 1;
          await errors.writeLine(row.result_line!);
        } else if (status !== 'completed') {
          failed += 1;
          const error = UNFINISHED_ERRORS[status];
          await errors.writeLine(JSON.stringify({ id: newId('batch_req'), custom_id: row.custom_id, response: null, error }));
        }
      }
      afterLine = page[page.length - 1]!.line;
    }
    const files = { outputFileId: null as string | null, errorFileId: null as string | null };
    for (const [writer, key] of [[output, 'outputFileId'], [errors, 'errorFileId']] as const) {
      await writer.flush();
      if (writer.bytes === 0) {
        await deleteFileById(client, writer.fileId);
      } else {
        await setFileBytes(client, writer.fileId, writer.bytes);
        files[key] = writer.fileId;
      }
    }
    await markFinished(client, batchId, status, files, { completed, failed });
    return { completed, failed };
  });
  log.info({ batchId, status, ...counts }, 'batch finished');
  return counts;
}
