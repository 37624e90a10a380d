import { loadConfigOrExit, requireWorkerConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { exitOnFatalError } from '../shared/exit-on-fatal-error.js';
import { createLogger, logOutputForStdout } from '../shared/logger.js';
import { retryUntilDone } from '../shared/retry-until-done.js';
import { startWorkerMetrics } from './worker-metrics-server.js';
import { startWorkerRuntime } from './worker-runtime.js';

/**
 * Production worker entry point: `npm run worker`. Configured by environment
 * variables only. Postgres, Temporal or the namespace not being up yet is
 * waited for (one log line per try), not a crash; SIGTERM ends the wait.
 */
const config = requireWorkerConfig(loadConfigOrExit());
const log = createLogger(config.logLevel, 'worker', logOutputForStdout(config.logFormat, false));
exitOnFatalError(log);
if (!config.webhook.secret) log.warn('WEBHOOK_SECRET is not set: webhooks without their own secret are delivered unsigned');
const pool = createPool(config.databaseUrl, config.databasePoolSize);
// Served from the start, so a worker still waiting for Postgres or Temporal is already scraped.
const metrics = await startWorkerMetrics({ host: config.host, ...config.metrics });
if (metrics) log.info({ port: metrics.port }, 'worker metrics at /metrics');
const stopping = new AbortController();
let runtime: ReturnType<typeof startWorkerRuntime> | undefined;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down: finishing or handing back in-flight activities');
    stopping.abort();
    runtime?.stop();
  });
}
log.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address }, 'worker starting');
const migrated = await retryUntilDone('apply database migrations', () => migrate(pool), log, { signal: stopping.signal }).then(
  () => true,
  () => false, // stopped while waiting
);
if (migrated) {
  runtime = startWorkerRuntime(config, pool, log, config.upstream.baseUrl, metrics?.metrics);
  await runtime.done;
}
await metrics?.stop();
await pool.end();
log.info('worker stopped');
