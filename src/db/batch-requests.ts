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
}

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
 * Records finished requests. Only rows still pending change, so a retried
 * activity never counts or writes a request twice; returns what changed.
 */
export async function saveFinishedRequests(
  db: Queryable,
  batchId: string,
  results: FinishedRequest[],
): Promise<{ completed: number; failed: number }> {
  if (results.length === 0) return { completed: 0, failed: 0 };
  const { rows } = await db.query<{ state: string; n: number }>(
    `WITH updated AS (
       UPDATE batch_requests AS b
          SET state = r.state, result_line = r.result_line, finished_at = now()
         FROM unnest($2::int[], $3::text[], $4::text[]) AS r(line, state, result_line)
        WHERE b.batch_id = $1::text AND b.line = r.line AND b.state = 'pending'
          -- The explicit line range keeps the plan on the primary key even before
          -- the table has statistics (otherwise each flush may scan the whole batch).
          AND b.line BETWEEN $5::int AND $6::int
       RETURNING b.state)
     SELECT state, count(*)::int AS n FROM updated GROUP BY state`,
    [
      batchId,
      results.map((r) => r.line),
      results.map((r) => r.state),
      results.map((r) => r.resultLine),
      Math.min(...results.map((r) => r.line)),
      Math.max(...results.map((r) => r.line)),
    ],
  );
  const count = (state: string) => rows.find((r) => r.state === state)?.n ?? 0;
  return { completed: count('completed'), failed: count('failed') };
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

/** One page of rows in line order, for writing the output and error files. */
export async function readRequestPage(
  db: Queryable,
  batchId: string,
  afterLine: number,
  limit: number,
): Promise<{ line: number; custom_id: string; state: RequestState; result_line: string | null }[]> {
  const { rows } = await db.query<{ line: number; custom_id: string; state: RequestState; result_line: string | null }>(
    `SELECT line, custom_id, state, result_line FROM batch_requests
      WHERE batch_id = $1::text AND line > $2::int
      ORDER BY line LIMIT $3::int`,
    [batchId, afterLine, limit],
  );
  return rows;
}
