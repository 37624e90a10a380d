import { MAX_REQUESTS_PER_BATCH, parseInputLine, requestLines } from '../batches/input-lines.js';
import { countBatchRequests, deleteBatchRequests, insertBatchRequests } from '../db/batch-requests.js';
import { findBatchById, isPostgresDataError, markFailed, markInProgress } from '../db/batches.js';
import type { BatchErrorItem } from '../workflows/contracts.js';
import { findFile, readFileChunks } from '../db/files.js';
import { inTransaction, type PoolClient } from '../db/pool.js';
import { asUpstreamRouter } from '../upstream/upstream-router.js';
import type { ActivityDeps } from './activity-deps.js';

const INSERT_BATCH_ROWS = 1000;
const MAX_REPORTED_ERRORS = 100;

class InputRejected extends Error {
  constructor(readonly errors: BatchErrorItem[]) {
    super('input rejected');
  }
}

type Row = { line: number; customId: string; body: string; fileLine: number };

/** Stores rows; rows Postgres refuses are an input error for their lines, not a step to retry forever. */
async function storeRows(client: PoolClient, batchId: string, rows: Row[]): Promise<void> {
  try {
    await insertBatchRequests(client, batchId, rows);
  } catch (err) {
    if (!isPostgresDataError(err) || rows.length === 0) throw err;
    const [first, last] = [rows[0]!.fileLine, rows[rows.length - 1]!.fileLine];
    const where = first === last ? `Line ${first}` : `Lines ${first}-${last}`;
    throw new InputRejected([{ code: 'invalid_json_line', message: `${where} could not be stored: ${err.message}.`, param: null, line: first === last ? first : null }]);
  }
}

const modelName = (name: string | null) => (name === null ? 'no model' : `model ${JSON.stringify(name)}`);

/**
 * A line naming another model than the batch's first request. The code is the
 * one OpenAI's batch validation reports for it (`model_mismatch`).
 */
function modelMismatch(fileLine: number, name: string | null, first: { name: string | null; fileLine: number }): BatchErrorItem {
  return {
    code: 'model_mismatch',
    message: `Line ${fileLine}: ${modelName(name)} differs from ${modelName(first.name)} of line ${first.fileLine}; all requests in a batch must use the same model.`,
    param: 'body.model',
    line: fileLine,
  };
}

/** The batch's model has no upstream: refused before anything is sent. */
function modelNotRouted(fileLine: number, name: string | null): BatchErrorItem {
  return {
    code: 'model_not_found',
    message: `Line ${fileLine}: ${modelName(name)} is not served here: no upstream route matches it.`,
    param: 'body.model',
    line: fileLine,
  };
}

export interface ValidateBatchInput {
  batchId: string;
  /**
   * Store only the first this many requests (the rest are still validated);
   * storeRemainingRequests stores the others while the first chunks run.
   * Absent (batches started before that existed): every request is stored here.
   */
  storeFirst?: number;
}

/** `stored`: how many requests (lines 0 … stored-1) are stored; absent when all are. */
export type ValidationResult = { ok: true; total: number; stored?: number } | { ok: false };

/**
 * Streams the input file, validates every line and stores the requests (the
 * first `storeFirst`, or all), in one transaction: either the batch is
 * `in_progress` with its stored requests, or nothing is stored and the batch
 * is `failed` with line errors. No line is sent anywhere before the whole
 * file is valid. Running it again redoes the same work, so retries are safe.
 */
export async function validateBatchInput(
  { pool, log, upstream }: ActivityDeps,
  { batchId, storeFirst }: ValidateBatchInput,
): Promise<ValidationResult> {
  const batch = await findBatchById(pool, batchId);
  if (!batch) throw new Error(`batch ${batchId} not found`);
  if (batch.status !== 'validating' && batch.status !== 'cancelling') {
    // Already validated by an earlier attempt whose result was lost.
    if (batch.status === 'failed') return { ok: false };
    return storeFirst === undefined ? { ok: true, total: batch.total_count } : { ok: true, total: batch.total_count, stored: await countBatchRequests(pool, batchId) };
  }
  try {
    const total = await inTransaction(pool, async (client) => {
      if (!(await findFile(client, batch.owner, batch.input_file_id))) {
        throw new InputRejected([{ code: 'file_not_found', message: `Input file ${batch.input_file_id} no longer exists.`, param: 'input_file_id', line: null }]);
      }
      await deleteBatchRequests(client, batchId);
      const errors: BatchErrorItem[] = [];
      const seen = new Set<string>();
      // OpenAI runs a batch on one model: the first request's, which every other request must name too.
      let model: { name: string | null; fileLine: number } | undefined;
      let rows: Row[] = [];
      let count = 0;
      for await (const { text, fileLine } of requestLines(readFileChunks(client, batch.input_file_id))) {
        if (count >= MAX_REQUESTS_PER_BATCH) {
          errors.push({ code: 'too_many_requests', message: `The input file has more than ${MAX_REQUESTS_PER_BATCH} requests.`, param: null, line: fileLine });
          break;
        }
        const parsed = parseInputLine(text, fileLine, batch.endpoint);
        if (!parsed.ok) {
          if (errors.length < MAX_REPORTED_ERRORS) errors.push(parsed.error);
          continue;
        }
        if (seen.has(parsed.customId)) {
          if (errors.length < MAX_REPORTED_ERRORS) {
            errors.push({ code: 'duplicate_custom_id', message: `Line ${fileLine}: custom_id ${JSON.stringify(parsed.customId)} is used more than once.`, param: 'custom_id', line: fileLine });
          }
          continue;
        }
        seen.add(parsed.customId);
        if (model === undefined) {
          model = { name: parsed.model, fileLine };
          if (!asUpstreamRouter(upstream).route(parsed.model)) errors.push(modelNotRouted(fileLine, parsed.model));
        }
        if (parsed.model !== model.name) {
          if (errors.length < MAX_REPORTED_ERRORS) errors.push(modelMismatch(fileLine, parsed.model, model));
          continue;
        }
        if (storeFirst === undefined || count < storeFirst) rows.push({ line: count, customId: parsed.customId, body: parsed.body, fileLine });
        count += 1;
        if (rows.length >= INSERT_BATCH_ROWS && errors.length === 0) {
          await storeRows(client, batchId, rows);
          rows = [];
        }
      }
      if (count === 0 && errors.length === 0) {
        errors.push({ code: 'empty_file', message: 'The input file contains no requests.', param: 'input_file_id', line: null });
      }
      if (errors.length > 0) throw new InputRejected(errors);
      await storeRows(client, batchId, rows);
      await markInProgress(client, batchId, count, model?.name ?? null);
      return count;
    });
    log.info({ batchId, total }, 'batch input validated');
    return storeFirst === undefined ? { ok: true, total } : { ok: true, total, stored: Math.min(total, storeFirst) };
  } catch (err) {
    if (!(err instanceof InputRejected)) throw err;
    await markFailed(pool, batchId, err.errors);
    log.info({ batchId, errors: err.errors.length }, 'batch input rejected');
    return { ok: false };
  }
}
