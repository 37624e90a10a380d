import { ApplicationFailure } from '@temporalio/common';
import { parseInputLine, requestLines } from '../batches/input-lines.js';
import { insertBatchRequests } from '../db/batch-requests.js';
import { findBatchById } from '../db/batches.js';
import { findFile, readFileChunks } from '../db/files.js';
import { BATCH_DATA_ERROR } from '../workflows/contracts.js';
import type { ActivityDeps } from './activity-deps.js';

const INSERT_BATCH_ROWS = 2_000;

/** Fails the batch: retrying cannot bring back a file or change its content. */
const cannotStore = (message: string) => ApplicationFailure.create({ type: BATCH_DATA_ERROR, message, nonRetryable: true });

/**
 * Stores the requests from line `fromLine` on of a batch whose input was
 * validated as a whole (validateBatchInput with `storeFirst`), while its
 * first chunks already run. Each insert commits on its own and skips lines
 * already stored, so an attempt that dies halfway is simply run again.
 * Requests are numbered as validation numbers them (requestLines), from 0.
 */
export async function storeRemainingRequests(
  { pool, log }: ActivityDeps,
  { batchId, fromLine }: { batchId: string; fromLine: number },
): Promise<{ stored: number }> {
  const batch = await findBatchById(pool, batchId);
  if (!batch) throw new Error(`batch ${batchId} not found`);
  if (!(await findFile(pool, batch.owner, batch.input_file_id))) {
    throw cannotStore(`the input file ${batch.input_file_id} was deleted before all of its requests were stored`);
  }
  let rows: { line: number; customId: string; body: string }[] = [];
  let line = 0;
  for await (const { text, fileLine } of requestLines(readFileChunks(pool, batch.input_file_id))) {
    if (line >= fromLine) {
      const parsed = parseInputLine(text, fileLine, batch.endpoint);
      // Validation accepted every line of this file, and files never change.
      if (!parsed.ok) throw cannotStore(`line ${fileLine} of the input file no longer validates: ${parsed.error.message}`);
      rows.push({ line, customId: parsed.customId, body: parsed.body });
      if (rows.length >= INSERT_BATCH_ROWS) {
        await insertBatchRequests(pool, batchId, rows);
        rows = [];
      }
    }
    line += 1;
  }
  await insertBatchRequests(pool, batchId, rows);
  if (line !== batch.total_count) throw cannotStore(`the input file has ${line} requests where validation counted ${batch.total_count}`);
  log.info({ batchId, fromLine, total: line }, 'batch requests stored');
  return { stored: line - fromLine };
}
