/**
 * `npm run bench:dead-letter [-- --rows 1000000 --repeat 30]`
 *
 * Fills `webhook_dead_letter` with a million rows (many owners, batches, event
 * types and states) in a throwaway embedded Postgres, then times the queries
 * behind `GET /v1/webhooks/dead-letter` (first page, a deep cursor page, and
 * each filter) with the migration's indexes and, as the baseline in the same
 * run, with those indexes dropped. Reports the CPU each timing pass cost
 * Postgres and this process, per query. Prints JSON and a readable summary.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { listDeadLetters, type DeadLetterFilter } from '../src/db/webhook-dead-letters.js';
import { startEmbeddedPostgres } from '../src/stack/embedded-postgres.js';
import { cpuMsPer, describeCpuMs, postgresPids, startCpuMeter, type PidGroups } from './support/cpu-meter.js';
import { machine, publishReport } from './support/measure.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '30' } } });
const ROWS = Number(values.rows);
const REPEAT = Number(values.repeat);
const OWNERS = 100;
// The deep page starts this many rows into owner-0's list (halfway, when a smaller run holds fewer).
const DEEP_OFFSET = Math.min(5000, Math.floor(ROWS / OWNERS / 2));
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

async function timeCases(pool: Pool, cpuGroups: PidGroups) {
  const owner = 'owner-0';
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id FROM webhook_dead_letter WHERE owner = $1 ORDER BY id DESC OFFSET $2::int LIMIT 1`,
    [owner, DEEP_OFFSET],
  );
  const deepCursor = rows[0]!.id;
  const result: Record<string, number> = {};
  const meter = startCpuMeter(cpuGroups);
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
  const cpu = meter.stop();
  return { p50Ms: result, cpu, cpuMsPerQuery: cpuMsPer(cpu, cases.length * REPEAT) };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'dlq-bench-'));
await chmod(dir, 0o755);
const dataDir = path.join(dir, 'pg');
const pg = await startEmbeddedPostgres({ dataDir, log: () => undefined });
const pool = createPool(pg.url, 2);
const cpuGroups: PidGroups = { postgres: () => postgresPids(dataDir), bench: () => [process.pid] };
try {
  await migrate(pool);
  const fillStarted = performance.now();
  await fill(pool);
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  const withIndexes = await timeCases(pool, cpuGroups);
  for (const index of INDEXES) await pool.query(`DROP INDEX ${index}`);
  const withoutIndexes = await timeCases(pool, cpuGroups);
  const indexed = withIndexes.p50Ms;
  const unindexed = withoutIndexes.p50Ms;
  const speedup = Object.fromEntries(
    Object.keys(indexed).map((k) => [k, Number((unindexed[k]! / indexed[k]!).toFixed(1))]),
  );
  const report = {
    bench: 'dead-letter',
    size: ROWS >= 1_000_000 ? 'full' : 'smoke',
    at: new Date().toISOString(),
    machine: machine(),
    rows: ROWS,
    owners: OWNERS,
    repeat: REPEAT,
    fill_seconds: Number(fillSeconds.toFixed(1)),
    p50_ms_indexed: indexed,
    p50_ms_without_indexes: unindexed,
    speedup,
    cpu_indexed: withIndexes.cpu,
    cpu_ms_per_query_indexed: withIndexes.cpuMsPerQuery,
    cpu_without_indexes: withoutIndexes.cpu,
    cpu_ms_per_query_without_indexes: withoutIndexes.cpuMsPerQuery,
  };
  const summary =
    `dead-letter list over ${ROWS.toLocaleString('en')} rows, p50 ms with indexes: ` +
    Object.entries(indexed).map(([k, v]) => `${k} ${v} (×${speedup[k]} vs none)`).join('; ') +
    `; CPU/query ${describeCpuMs(withIndexes.cpuMsPerQuery)} with indexes, ${describeCpuMs(withoutIndexes.cpuMsPerQuery)} without`;
  const file = await publishReport('dead-letter', report, summary);
  process.stderr.write(`report written to ${file}\n`);
} finally {
  await pool.end();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
