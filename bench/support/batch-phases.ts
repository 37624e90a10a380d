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

/** When the batch reached each status, in wall-clock ms (comparable with nowMs()) at Postgres' µs precision. */
export async function readBatchTimeline(pool: Pool, batchId: string) {
  const { rows } = await pool.query<{ created_ms: number; in_progress_ms: number; finalizing_ms: number; completed_ms: number }>(
    `SELECT extract(epoch FROM created_at)::float8 * 1000 AS created_ms,
            extract(epoch FROM in_progress_at)::float8 * 1000 AS in_progress_ms,
            extract(epoch FROM finalizing_at)::float8 * 1000 AS finalizing_ms,
            extract(epoch FROM completed_at)::float8 * 1000 AS completed_ms
       FROM batches WHERE id = $1::text`,
    [batchId],
  );
  const row = rows[0];
  if (!row || row.completed_ms === null) throw new Error(`batch ${batchId} has no completed_at`);
  return row;
}
