import type { Pool, PoolClient } from './pool.js';

type Queryable = Pool | PoolClient;

/** How many batches are in each status and dead-letter entries in each state, right now. */
export interface StatusCounts {
  batches: Record<string, number>;
  deadLetters: Record<string, number>;
}

/**
 * Both counts in one round trip, for a metrics scrape. It reads every row's
 * status (Postgres has no cheaper exact count), which takes milliseconds up to
 * a few hundred thousand batches; beyond that, scrape less often.
 */
export async function countStatuses(db: Queryable): Promise<StatusCounts> {
  const { rows } = await db.query<{ kind: 'batch' | 'dead_letter'; state: string; n: number }>(
    `SELECT 'batch' AS kind, status AS state, count(*)::int AS n FROM batches GROUP BY status
     UNION ALL
     SELECT 'dead_letter', state, count(*)::int FROM webhook_dead_letter GROUP BY state`,
  );
  const counts: StatusCounts = { batches: {}, deadLetters: {} };
  for (const row of rows) (row.kind === 'batch' ? counts.batches : counts.deadLetters)[row.state] = row.n;
  return counts;
}
