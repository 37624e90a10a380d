import pg from 'pg';
import { isDatabaseUnavailable } from './connection-errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint counts (COUNT(*), bigserial ids) fit comfortably in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export interface PoolOptions {
  max?: number;
  /** How long to wait for a connection before failing; a request must not hang while Postgres is down. */
  connectionTimeoutMillis?: number;
}

export function createPool(connectionString: string, opts: number | PoolOptions = {}): Pool {
  const { max = 10, connectionTimeoutMillis = 10_000 } = typeof opts === 'number' ? { max: opts } : opts;
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Runs `fn` with a client checked out of the pool. A checked-out client emits
 * `error` when its connection dies (Postgres restarts, pg_terminate_backend);
 * unheard, that event would kill the process. Here it only fails the running
 * query, and the broken client is destroyed instead of going back to the pool.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (err) {
    // A failed query on a healthy connection leaves it usable; a dead socket does not.
    if (isDatabaseUnavailable(err)) broken ??= err as Error;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken ?? false);
  }
}

/** Resolves when Postgres answers a trivial query. */
export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/** Runs `fn` in a transaction; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
