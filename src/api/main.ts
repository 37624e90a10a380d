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
const pool = createPool(config.databaseUrl, config.databasePoolSize);
await migrate(pool);
const api = await startApiServer(config, pool, log);
log.info({ port: api.port }, 'API listening');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down');
    void api.stop().then(() => pool.end());
  });
}
