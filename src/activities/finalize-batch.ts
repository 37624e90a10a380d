import { lockPendingRequests, saveFinishedRequests, summarizeResults, writeResultFile } from '../db/batch-requests.js';
import { findBatchById, lockBatchForFinalization, markFinalizing, markFinished } from '../db/batches.js';
import type { FinalStatus } from '../workflows/contracts.js';
import { deleteFileById, FILE_CHUNK_BYTES, insertFile, setFileBytes } from '../db/files.js';
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
    // Built inside Postgres from the rows just settled: the counts below are of the same rows.
    const files = { outputFileId: null as string | null, errorFileId: null as string | null };
    for (const [state, fileId, key] of [['completed', outputFileId, 'outputFileId'], ['failed', errorFileId, 'errorFileId']] as const) {
      const bytes = await writeResultFile(client, batchId, state, fileId, FILE_CHUNK_BYTES);
      if (bytes === 0) {
        await deleteFileById(client, fileId);
      } else {
        await setFileBytes(client, fileId, bytes);
        files[key] = fileId;
      }
    }
    const { completed, failed, usage } = await summarizeResults(client, batchId);
    await markFinished(client, batchId, status, files, { completed, failed, usage });
    return { completed, failed };
  });
  log.info({ batchId, status, ...counts }, 'batch finished');
  return counts;
}
