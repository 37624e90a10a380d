import { addUsage, NO_USAGE } from '../batches/request-usage.js';
import { lockPendingRequests, readRequestPage, saveFinishedRequests } from '../db/batch-requests.js';
import { findBatchById, lockBatchForFinalization, markFinalizing, markFinished } from '../db/batches.js';
import type { FinalStatus } from '../workflows/contracts.js';
import { ChunkedFileWriter } from '../db/chunked-file-writer.js';
import { deleteFileById, insertFile, setFileBytes } from '../db/files.js';
import { inTransaction } from '../db/pool.js';
import { newId } from '../shared/ids.js';
import type { ActivityDeps } from './activity-deps.js';

const PAGE_ROWS = 5_000;

const UNFINISHED_ERRORS: Record<FinalStatus, { code: string; message: string }> = {
  expired: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
  cancelled: { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' },
  // Never expected: a completed run leaves no request pending. Kept so every request lands in a file.
  completed: { code: 'request_not_executed', message: 'This request was not executed.' },
};

/**
 * Writes the output and error files and moves the batch to its final status,
 * in one transaction. Still-pending requests first become failed rows
 * (batch_cancelled / batch_expired), so a chunk still running somewhere can
 * no longer change any row, and the counts are those of the rows written
 * out: completed = output lines, failed = error lines, usage = the sum of
 * the rows' usage. File ids derive from
 * the batch id, so a retried attempt replaces what an earlier one wrote.
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
    await lockBatchForFinalization(client, batchId);
    // Rows before the batch row, as a flush takes them: waits for a concurrent flush instead of deadlocking.
    const unfinished = await lockPendingRequests(client, batchId);
    const error = UNFINISHED_ERRORS[status];
    for (let i = 0; i < unfinished.length; i += PAGE_ROWS) {
      const rows = unfinished.slice(i, i + PAGE_ROWS).map((row) => ({
        line: row.line,
        state: 'failed' as const,
        resultLine: JSON.stringify({ id: newId('batch_req'), custom_id: row.custom_id, response: null, error }),
      }));
      await saveFinishedRequests(client, batchId, rows);
    }

    for (const id of [outputFileId, errorFileId]) await deleteFileById(client, id);
    // output_expires_after is anchored at the files' creation, i.e. now (OpenAI: not the batch's creation).
    const expiresAfterSeconds = batch.output_expires_after_seconds;
    await insertFile(client, { id: outputFileId, owner: batch.owner, purpose: 'batch_output', filename: `${batchId}_output.jsonl`, expiresAfterSeconds });
    await insertFile(client, { id: errorFileId, owner: batch.owner, purpose: 'batch_output', filename: `${batchId}_error.jsonl`, expiresAfterSeconds });
    const output = new ChunkedFileWriter(client, outputFileId);
    const errors = new ChunkedFileWriter(client, errorFileId);
    let completed = 0;
    let failed = 0;
    let usage = NO_USAGE;
    for (let afterLine = -1; ; ) {
      const page = await readRequestPage(client, batchId, afterLine, PAGE_ROWS);
      if (page.length === 0) break;
      for (const row of page) {
        if (row.usage) usage = addUsage(usage, row.usage);
        if (row.state === 'completed') {
          completed += 1;
          await output.writeLine(row.result_line!);
        } else {
          failed += 1;
          await errors.writeLine(row.result_line!);
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
    await markFinished(client, batchId, status, files, { completed, failed, usage });
    return { completed, failed };
  });
  log.info({ batchId, status, ...counts }, 'batch finished');
  return counts;
}
