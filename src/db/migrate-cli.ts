import { loadConfigOrExit } from '../config.js';
import { migrate } from './migrate.js';
import { createPool } from './pool.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL and exits. */
const config = loadConfigOrExit();
if (!config.databaseUrl) {
  process.stderr.write('invalid configuration: DATABASE_URL: required by npm run migrate\n');
  process.exit(1);
}
const pool = createPool(config.databaseUrl, 2);
try {
  const applied = await migrate(pool);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
} finally {
  await pool.end();
}
