import type { Pool } from '../../src/db/pool.js';

/**
 * Phase durations from the batch row and its requests, at Postgres' µs
 * precision (JavaScript Dates would round them to milliseconds).
 */
export async function readBatchPhases(pool: Pool, batchId: string) {
  const { rows } = await pool.query<{
    created_ms: number;
    completed_ms: number;
    queued_s: number;
    processing_s: number;
    finalizing_s: number;
    first_result_s: number;
    last_result_to_finalizing_s: number;
  }>(
    `SELECT extract(epoch FROM b.created_at)::float8 * 1000 AS created_ms,
            extract(epoch FROM b.completed_at)::float8 * 1000 AS completed_ms,
            extract(epoch FROM b.in_progress_at - b.created_at)::float8 AS queued_s,
            extract(epoch FROM b.finalizing_at - b.in_progress_at)::float8 AS processing_s,
            extract(epoch FROM b.completed_at - b.finalizing_at)::float8 AS finalizing_s,
            extract(epoch FROM r.first_at - b.in_progress_at)::float8 AS first_result_s,
            extract(epoch FROM b.finalizing_at - r.last_at)::float8 AS last_result_to_finalizing_s
       FROM batches b,
            (SELECT min(finished_at) AS first_at, max(finished_at) AS last_at
               FROM batch_requests WHERE batch_id = $1::text) r
      WHERE b.id = $1::text`,
    [batchId],
  );
  return rows[0]!;
}
