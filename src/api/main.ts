import { loadConfigOrExit, requireApiConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { exitOnFatalError } from '../shared/exit-on-fatal-error.js';
import { createLogger, logOutputForStdout } from '../shared/logger.js';
import { retryUntilDone } from '../shared/retry-until-done.js';
import { startApiServer } from './api-server.js';

/**
 * Production API entry point: `npm run api`. Configured by environment
 * variables only. It serves at once, even while Postgres or Temporal is not up
 * yet: `/ready` says what is missing, and the migrations are applied as soon
 * as Postgres answers.
 */
const config = requireApiConfig(loadConfigOrExit());
const log = createLogger(config.logLevel, 'api', logOutputForStdout(config.logFormat, false));
exitOnFatalError(log);
// While Postgres is unreachable a request gets its 503 within 5 s, well before a client's own timeout.
const pool = createPool(config.databaseUrl, { max: config.databasePoolSize, connectionTimeoutMillis: 5_000 });
let schemaReady = false;
const stopping = new AbortController();
const migrations = retryUntilDone('apply database migrations', () => migrate(pool), log, { signal: stopping.signal }).then(
  () => void (schemaReady = true),
  () => undefined, // only when stopping
);
const api = await startApiServer(config, pool, log, { schemaReady: () => schemaReady });
log.info({ port: api.port }, 'API listening');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down');
    stopping.abort();
    void api.stop().then(() => pool.end());
  });
}
await migrations;
