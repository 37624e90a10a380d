import { loadConfigOrExit, requireWorkerConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { exitOnFatalError } from '../shared/exit-on-fatal-error.js';
import { createLogger } from '../shared/logger.js';
import { startWorkerRuntime } from './worker-runtime.js';

/** Production worker entry point: `npm run worker`. Configured by environment variables only. */
const config = requireWorkerConfig(loadConfigOrExit());
const log = createLogger(config.logLevel, 'worker');
exitOnFatalError(log);
if (!config.webhook.secret) log.warn('WEBHOOK_SECRET is not set: webhooks without their own secret are delivered unsigned');
const pool = createPool(config.databaseUrl, config.databasePoolSize);
await migrate(pool);
const runtime = await startWorkerRuntime(config, pool, log, config.upstream.baseUrl);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down: finishing or handing back in-flight activities');
    runtime.stop();
  });
}
log.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address }, 'worker started');
await runtime.done;
await pool.end();
log.info('worker stopped');
