import { NO_USAGE, type RequestUsage } from '../batches/request-usage.js';
import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

export type RequestState = 'pending' | 'completed' | 'failed';

export interface PendingRequest {
  line: number;
  custom_id: string;
  body: string;
}

export interface FinishedRequest {
  line: number;
  state: 'completed' | 'failed';
  resultLine: string;
  /** The upstream answer's token usage; absent or null when it reported none. */
  usage?: RequestUsage | null;
}

/** What a save changed: requests that finished now (not earlier), and their usage. */
export interface SavedRequests {
  completed: number;
  failed: number;
  usage: RequestUsage;
}

/** Usage columns as summed numbers (pg returns bigint sums as text; these stay far below 2^53). */
const SUM_USAGE = `COALESCE(sum(input_tokens), 0)::float8 AS input_tokens,
  COALESCE(sum(output_tokens), 0)::float8 AS output_tokens,
  COALESCE(sum(total_tokens), 0)::float8 AS total_tokens,
  COALESCE(sum(cached_tokens), 0)::float8 AS cached_tokens,
  COALESCE(sum(reasoning_tokens), 0)::float8 AS reasoning_tokens`;

type UsageColumns = { input_tokens: number; output_tokens: number; total_tokens: number; cached_tokens: number; reasoning_tokens: number };

const usageOfColumns = (row: UsageColumns): RequestUsage => ({
  inputTokens: row.input_tokens,
  outputTokens: row.output_tokens,
  totalTokens: row.total_tokens,
  cachedTokens: row.cached_tokens,
  reasoningTokens: row.reasoning_tokens,
});

export async function deleteBatchRequests(db: Queryable, batchId: string): Promise<void> {
  await db.query(`DELETE FROM batch_requests WHERE batch_id = $1::text`, [batchId]);
}

/** Bulk insert of validated input lines (one round trip per call). */
export async function insertBatchRequests(
  db: Queryable,
  batchId: string,
  requests: { line: number; customId: string; body: string }[],
): Promise<void> {
  if (requests.length === 0) return;
  await db.query(
    `INSERT INTO batch_requests (batch_id, line, custom_id, body)
     SELECT $1::text, r.line, r.custom_id, r.body
       FROM unnest($2::int[], $3::text[], $4::text[]) AS r(line, custom_id, body)
     ON CONFLICT (batch_id, line) DO NOTHING`,
    [batchId, requests.map((r) => r.line), requests.map((r) => r.customId), requests.map((r) => r.body)],
  );
}

export async function findPendingInRange(
  db: Queryable,
  batchId: string,
  fromLine: number,
  toLine: number,
): Promise<PendingRequest[]> {
  const { rows } = await db.query<PendingRequest>(
    `SELECT line, custom_id, body FROM batch_requests
      WHERE batch_id = $1::text AND line >= $2::int AND line < $3::int AND state = 'pending'
      ORDER BY line`,
    [batchId, fromLine, toLine],
  );
  return rows;
}

/**
 * Records finished requests with their usage. Only rows still pending change,
 * so a retried activity never counts, writes or bills a request twice;
 * returns what changed, for the batch's counters in the same transaction.
 */
export async function saveFinishedRequests(db: Queryable, batchId: string, results: FinishedRequest[]): Promise<SavedRequests> {
  if (results.length === 0) return { completed: 0, failed: 0, usage: NO_USAGE };
  const usage = (pick: (u: RequestUsage) => number) => results.map((r) => (r.usage ? pick(r.usage) : null));
  const { rows } = await db.query<{ completed: number; failed: number } & UsageColumns>(
    `WITH updated AS (
       UPDATE batch_requests AS b
          SET state = r.state, result_line = r.result_line, finished_at = now(),
              input_tokens = r.input_tokens, output_tokens = r.output_tokens, total_tokens = r.total_tokens,
              cached_tokens = r.cached_tokens, reasoning_tokens = r.reasoning_tokens
         FROM unnest($2::int[], $3::text[], $4::text[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[])
              AS r(line, state, result_line, input_tokens, output_tokens, total_tokens, cached_tokens, reasoning_tokens)
        WHERE b.batch_id = $1::text AND b.line = r.line AND b.state = 'pending'
          -- The explicit line range keeps the plan on the primary key even before
          -- the table has statistics (otherwise each flush may scan the whole batch).
          AND b.line BETWEEN $5::int AND $6::int
       RETURNING b.state, b.input_tokens, b.output_tokens, b.total_tokens, b.cached_tokens, b.reasoning_tokens)
     SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed,
            count(*) FILTER (WHERE state = 'failed')::int AS failed,
            ${SUM_USAGE}
       FROM updated`,
    [
      batchId,
      results.map((r) => r.line),
      results.map((r) => r.state),
      results.map((r) => r.resultLine),
      Math.min(...results.map((r) => r.line)),
      Math.max(...results.map((r) => r.line)),
      usage((u) => u.inputTokens),
      usage((u) => u.outputTokens),
      usage((u) => u.totalTokens),
      usage((u) => u.cachedTokens),
      usage((u) => u.reasoningTokens),
    ],
  );
  const row = rows[0]!;
  return { completed: row.completed, failed: row.failed, usage: usageOfColumns(row) };
}

/**
 * Locks the batch's still-pending rows (waiting for any flush that holds
 * them, then skipping those it finished) and returns them in line order.
 * Finalization calls this first, so rows are always locked before the batch row.
 */
export async function lockPendingRequests(db: Queryable, batchId: string): Promise<{ line: number; custom_id: string }[]> {
  const { rows } = await db.query<{ line: number; custom_id: string }>(
    `SELECT line, custom_id FROM batch_requests
      WHERE batch_id = $1::text AND state = 'pending'
      ORDER BY line FOR UPDATE`,
    [batchId],
  );
  return rows;
}

/**
 * Writes the result lines of the batch's rows in `state` ('completed': the
 * output file, 'failed': the error file) into `fileId`'s chunks, in line
 * order, inside Postgres: the lines never travel to the worker and back. A
 * chunk takes lines until it holds about `chunkBytes` (a line is never split).
 * Returns the file's size in bytes (0: no such rows, no chunk written).
 */
export async function writeResultFile(
  db: Queryable,
  batchId: string,
  state: 'completed' | 'failed',
  fileId: string,
  chunkBytes: number,
): Promise<number> {
  const { rows } = await db.query<{ bytes: string }>(
    `WITH placed AS (
       -- Each line's starting byte in the file picks its chunk.
       SELECT line, result_line,
              (sum(octet_length(result_line) + 1) OVER (ORDER BY line) - octet_length(result_line) - 1) / $4::bigint AS part
         FROM batch_requests
        WHERE batch_id = $1::text AND state = $2::text
     ), parts AS (
       SELECT part, convert_to(string_agg(result_line || E'\n', '' ORDER BY line), 'UTF8') AS data
         FROM placed GROUP BY part
     ), written AS (
       INSERT INTO file_chunks (file_id, seq, data)
       SELECT $3::text, (row_number() OVER (ORDER BY part) - 1)::int, data FROM parts
       RETURNING octet_length(data) AS bytes
     )
     SELECT COALESCE(sum(bytes), 0)::text AS bytes FROM written`,
    [batchId, state, fileId, chunkBytes],
  );
  return Number(rows[0]!.bytes);
}

/**
 * The finished rows' counts and summed usage, as the files hold them. Usage
 * is summed as saveFinishedRequests sums it: it writes a row's usage columns
 * together, all set or all null.
 */
export async function summarizeResults(db: Queryable, batchId: string): Promise<SavedRequests> {
  const { rows } = await db.query<{ completed: number; failed: number } & UsageColumns>(
    `SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed,
            count(*) FILTER (WHERE state = 'failed')::int AS failed,
            ${SUM_USAGE}
       FROM batch_requests WHERE batch_id = $1::text`,
    [batchId],
  );
  const row = rows[0]!;
  return { completed: row.completed, failed: row.failed, usage: usageOfColumns(row) };
}

/** A request that did not complete, with what a retry needs: its input and the error line it ended with. */
export interface UnfinishedRequest {
  line: number;
  custom_id: string;
  body: string;
  state: 'failed' | 'pending';
  result_line: string | null;
}

/**
 * One page of a batch's requests that did not complete (failed, or still
 * pending in a batch that failed mid-run), in line order.
 */
export async function readUnfinishedRequestPage(db: Queryable, batchId: string, afterLine: number, limit: number): Promise<UnfinishedRequest[]> {
  const { rows } = await db.query<UnfinishedRequest>(
    `SELECT line, custom_id, body, state, result_line FROM batch_requests
      WHERE batch_id = $1::text AND line > $2::int AND state <> 'completed'
      ORDER BY line LIMIT $3::int`,
    [batchId, afterLine, limit],
  );
  return rows;
}

/** How many request rows the batch still has (the retention clean-up removes them in rounds). */
export async function countBatchRequests(db: Queryable, batchId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM batch_requests WHERE batch_id = $1::text`, [batchId]);
  return rows[0]!.n;
}
