/**
 * `npm run cluster`: a real Temporal server on Postgres for running the API and
 * workers against (see docs/CLUSTER.md). Prints TEMPORAL_ADDRESS and
 * DATABASE_URL, then runs until SIGINT/SIGTERM and stops what it started.
 *
 * Environment: DATABASE_URL (use this Postgres instead of starting one),
 * CLUSTER_DIR (state, default .data/cluster), CLUSTER_POSTGRES_PORT,
 * TEMPORAL_NAMESPACE (default `default`), TEMPORAL_CLI_PATH, and the server's
 * ports TEMPORAL_FRONTEND_PORT (default 7233), TEMPORAL_FRONTEND_HTTP_PORT,
 * TEMPORAL_{HISTORY,MATCHING,WORKER}_PORT, TEMPORAL_{FRONTEND,HISTORY,MATCHING,WORKER}_MEMBERSHIP_PORT
 * (unset: free ports).
 */
import path from 'node:path';
import { REPO_ROOT } from '../../bench/support/node-process.js';
import { startCluster } from './cluster.js';
import type { TemporalPorts } from './temporal-server-process.js';

const say = (msg: string) => void process.stderr.write(`[cluster] ${msg}\n`);
const env = process.env;
const port = (name: string): number | undefined => (env[name] ? Number(env[name]) : undefined);
const ports: Partial<TemporalPorts> = Object.fromEntries(
  Object.entries({
    frontend: port('TEMPORAL_FRONTEND_PORT') ?? 7233,
    frontendHttp: port('TEMPORAL_FRONTEND_HTTP_PORT'),
    history: port('TEMPORAL_HISTORY_PORT'),
    matching: port('TEMPORAL_MATCHING_PORT'),
    worker: port('TEMPORAL_WORKER_PORT'),
    frontendMembership: port('TEMPORAL_FRONTEND_MEMBERSHIP_PORT'),
    historyMembership: port('TEMPORAL_HISTORY_MEMBERSHIP_PORT'),
    matchingMembership: port('TEMPORAL_MATCHING_MEMBERSHIP_PORT'),
    workerMembership: port('TEMPORAL_WORKER_MEMBERSHIP_PORT'),
  }).filter(([, v]) => v !== undefined),
);
const stateDir = path.resolve(env.CLUSTER_DIR ?? path.join(REPO_ROOT, '.data', 'cluster'));

try {
  const cluster = await startCluster({
    stateDir,
    logDir: path.join(stateDir, 'logs'),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(port('CLUSTER_POSTGRES_PORT') ? { postgresPort: port('CLUSTER_POSTGRES_PORT') } : {}),
    temporalPorts: ports,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    ...(env.TEMPORAL_CLI_PATH ? { temporalCliPath: env.TEMPORAL_CLI_PATH } : {}),
    log: say,
  });
  process.stdout.write(`TEMPORAL_ADDRESS=${cluster.temporalAddress}\nTEMPORAL_NAMESPACE=${cluster.namespace}\nDATABASE_URL=${cluster.databaseUrl}\n`);
  say(`logs in ${path.join(stateDir, 'logs')}; Ctrl-C stops the cluster`);
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve(signal));
  });
  say(`${await stopped}: stopping`);
  await cluster.stop();
  process.exit(0);
} catch (err) {
  say(`failed: ${(err as Error).message}`);
  process.exit(1);
}
