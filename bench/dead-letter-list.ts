/**
 * `npx tsx bench/dead-letter-list.ts [--rows 1000000]`
 *
 * Fills `webhook_dead_letter` with a million rows (many owners, batches, event
 * types and states) in a throwaway embedded Postgres, then times the queries
 * behind `GET /v1/webhooks/dead-letter` (first page, a deep cursor page, and
 * each filter) with the migration's indexes and, as the baseline in the same
 * run, with those indexes dropped. Prints JSON and a readable summary.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { listDeadLetters, type DeadLetterFilter } from '../src/db/webhook-dead-letters.js';
import { startEmbeddedPostgres } from '../src/stack/embedded-postgres.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '30' } } });
const ROWS = Number(values.rows);
const REPEAT = Number(values.repeat);
const OWNERS = 100;
const INDEXES = ['webhook_dead_letter_owner_idx', 'webhook_dead_letter_owner_batch_idx', 'webhook_dead_letter_owner_type_idx', 'webhook_dead_letter_owner_state_idx'];

async function fill(pool: Pool): Promise<void> {
  // Owner 0 holds 1% of rows; every 1,000th row of it shares one batch id.
  await pool.query(
    `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, error_message, attempts, state)
     SELECT 'owner-' || (i % $2::int), 'batch_' || (i / 1000), 'evt_' || i,
            (ARRAY['completed','failed','progress','cancelled','expired'])[1 + i % 5],
            'https://example.com/hook', '{"id":"evt"}', 'HTTP 503', 3,
            (ARRAY['pending','pending','pending','failed','succeeded'])[1 + (i / 7) % 5]
       FROM generate_series(1, $1::int) AS i`,
    [ROWS, OWNERS],
  );
  await pool.query('ANALYZE webhook_dead_letter');
}

const cases: { name: string; filter: DeadLetterFilter; deep?: boolean }[] = [
  { name: 'first page', filter: {} },
  { name: 'deep cursor page', filter: {}, deep: true },
  { name: 'by batch_id', filter: { batchId: 'batch_500' } },
  { name: 'by event_type', filter: { eventType: 'failed' } },
  { name: 'by state', filter: { state: 'succeeded' } },
];

async function timeCases(pool: Pool): Promise<Record<string, number>> {
  const owner = 'owner-0';
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id FROM webhook_dead_letter WHERE owner = $1 ORDER BY id DESC OFFSET 5000 LIMIT 1`,
    [owner],
  );
  const deepCursor = rows[0]!.id;
  const result: Record<string, number> = {};
  for (const c of cases) {
    const samples: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const started = performance.now();
      await listDeadLetters(pool, owner, c.filter, { limit: 21, after: c.deep ? deepCursor : undefined });
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    result[c.name] = Number(samples[Math.floor(samples.length / 2)]!.toFixed(3));
  }
  return result;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'dlq-bench-'));
await chmod(dir, 0o755);
const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), log: () => undefined });
const pool = createPool(pg.url, 2);
try {
  await migrate(pool);
  const fillStarted = performance.now();
  await fill(pool);
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  const indexed = await timeCases(pool);
  for (const index of INDEXES) await pool.query(`DROP INDEX ${index}`);
  const unindexed = await timeCases(pool);
  const speedup = Object.fromEntries(
    Object.keys(indexed).map((k) => [k, Number((unindexed[k]! / indexed[k]!).toFixed(1))]),
  );
  const report = { rows: ROWS, owners: OWNERS, repeat: REPEAT, fill_seconds: Number(fillSeconds.toFixed(1)), p50_ms_indexed: indexed, p50_ms_without_indexes: unindexed, speedup };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stdout.write(
    `dead-letter list over ${ROWS.toLocaleString('en')} rows, p50 ms with indexes: ` +
      Object.entries(indexed).map(([k, v]) => `${k} ${v} (×${speedup[k]} vs none)`).join('; ') +
      '\n',
  );
} finally {
  await pool.end();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
