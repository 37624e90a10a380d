import { loadConfigOrExit, requireApiConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { exitOnFatalError } from '../shared/exit-on-fatal-error.js';
import { createLogger } from '../shared/logger.js';
import { startApiServer } from './api-server.js';

/** Production API entry point: `npm run api`. Configured by environment variables only. */
const config = requireApiConfig(loadConfigOrExit());
const log = createLogger(config.logLevel, 'api');
exitOnFatalError(log);
// While Postgres is unreachable a request gets its 503 within 5 s, well before a client's own timeout.
const pool = createPool(config.databaseUrl, { max: config.databasePoolSize, connectionTimeoutMillis: 5_000 });
await migrate(pool);
const api = await startApiServer(config, pool, log);
log.info({ port: api.port }, 'API listening');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down');
    void api.stop().then(() => pool.end());
  });
}
