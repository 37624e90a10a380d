import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';

/** Every migration file, in the order they apply. */
const MIGRATIONS = readdirSync(new URL('../src/db/migrations/', import.meta.url)).filter((name) => name.endsWith('.sql')).sort();
const after = (last: string) => MIGRATIONS.filter((name) => name > last);

// A database of its own, so the test sees migrations from an empty schema.
const database = `migrate_${Math.random().toString(36).slice(2, 10)}`;
let admin: Pool;
let url: string;

beforeAll(async () => {
  admin = createPool(inject('databaseUrl'), 1);
  await admin.query(`CREATE DATABASE ${database}`);
  const u = new URL(inject('databaseUrl'));
  u.pathname = `/${database}`;
  url = u.toString();
});
afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

describe('migrations', () => {
  it('apply once even when two processes start at the same moment, and are a no-op the second time', async () => {
    const a = createPool(url, 2);
    const b = createPool(url, 2);
    try {
      const [first, second] = await Promise.all([migrate(a), migrate(b)]);
      const appliedOnce = [...first, ...second].sort();
      expect(appliedOnce.slice(0, 8)).toEqual(['001_batches.sql', '002_webhooks.sql', '003_webhook_attempt_lifecycle.sql', '004_webhook_secret_rotation.sql', '005_webhook_endpoints.sql', '006_webhook_endpoint_secret_rotation.sql', '007_webhook_endpoint_disabled_reason.sql', '008_webhook_test_events.sql']);
      expect(appliedOnce).toEqual(MIGRATIONS);
      expect(await migrate(a)).toEqual([]);
      const { rows } = await a.query('SELECT name FROM schema_migrations ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS);
      const columns = await a.query(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'webhook_dead_letter' ORDER BY column_name`,
      );
      expect(columns.rows.map((r) => r.column_name)).toEqual(
        expect.arrayContaining(['id', 'batch_id', 'webhook_url', 'payload', 'error_message', 'attempts', 'last_attempt_at', 'created_at', 'retried_at', 'retry_success', 'event_id', 'event_type']),
      );
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('upgrade a database that has only the first migration', async () => {
    const u = new URL(url);
    const older = `${database}_old`;
    await admin.query(`CREATE DATABASE ${older}`);
    u.pathname = `/${older}`;
    const pool = createPool(u.toString(), 2);
    try {
      // As a database from before the webhook tables existed would be.
      await pool.query(`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      await pool.query(await readFile(new URL('../src/db/migrations/001_batches.sql', import.meta.url), 'utf8'));
      await pool.query(`INSERT INTO schema_migrations (name) VALUES ('001_batches.sql')`);
      expect(await migrate(pool)).toEqual(after('001_batches.sql'));
      await pool.query(`SELECT id, state, retry_count FROM webhook_dead_letter LIMIT 1`);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${older} WITH (FORCE)`);
    }
  });

  it('upgrade a database at 004 without losing a dead-letter entry: existing entries belong to the batch webhook', async () => {
    const u = new URL(url);
    const older = `${database}_004`;
    await admin.query(`CREATE DATABASE ${older}`);
    u.pathname = `/${older}`;
    const pool = createPool(u.toString(), 2);
    try {
      await pool.query(`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const name of ['001_batches.sql', '002_webhooks.sql', '003_webhook_attempt_lifecycle.sql', '004_webhook_secret_rotation.sql']) {
        await pool.query(await readFile(new URL(`../src/db/migrations/${name}`, import.meta.url), 'utf8'));
        await pool.query(`INSERT INTO schema_migrations (name) VALUES ($1::text)`, [name]);
      }
      const entry = `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, attempts)
                     VALUES ('alice', 'batch_1', $1::text, 'completed', 'https://example.com/hook', '{}', 3)`;
      await pool.query(entry, ['evt_1']);
      await pool.query(entry, ['evt_2']);

      expect(await migrate(pool)).toEqual(after('004_webhook_secret_rotation.sql'));
      const { rows } = await pool.query(`SELECT event_id, target, attempts FROM webhook_dead_letter ORDER BY id`);
      expect(rows).toEqual([
        { event_id: 'evt_1', target: 'batch_webhook', attempts: 3 },
        { event_id: 'evt_2', target: 'batch_webhook', attempts: 3 },
      ]);
      // One entry per (event, target): an endpoint's entry for the same event fits beside it, a second batch-webhook one does not.
      await pool.query(
        `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, attempts, target)
         VALUES ('alice', 'batch_1', 'evt_1', 'completed', 'https://example.com/other', '{}', 3, 'we_1')`,
      );
      await expect(pool.query(entry, ['evt_1'])).rejects.toThrow(/duplicate key/);
      await pool.query(`SELECT id, owner, url, secret, events, enabled, max_retries, timeout FROM webhook_endpoints LIMIT 1`);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${older} WITH (FORCE)`);
    }
  });

  it('upgrade a database at 008 without losing an endpoint or an entry: entries were delivery failures, endpoints have no metadata', async () => {
    const u = new URL(url);
    const older = `${database}_008`;
    await admin.query(`CREATE DATABASE ${older}`);
    u.pathname = `/${older}`;
    const pool = createPool(u.toString(), 2);
    try {
      await pool.query(`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const name of MIGRATIONS.filter((n) => n <= '008_webhook_test_events.sql')) {
        await pool.query(await readFile(new URL(`../src/db/migrations/${name}`, import.meta.url), 'utf8'));
        await pool.query(`INSERT INTO schema_migrations (name) VALUES ($1::text)`, [name]);
      }
      await pool.query(
        `INSERT INTO webhook_endpoints (id, owner, url, secret, events, max_retries, timeout, enabled, disabled_reason)
         VALUES ('we_1', 'alice', 'https://example.com/hook', 's', '{completed}', 3, 30, false, '410 Gone')`,
      );
      await pool.query(
        `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, attempts, target)
         VALUES ('alice', 'batch_1', 'evt_1', 'completed', 'https://example.com/hook', '{}', 3, 'we_1')`,
      );

      expect(await migrate(pool)).toEqual(after('008_webhook_test_events.sql'));
      const entries = await pool.query(`SELECT event_id, target, attempts, reason, batch_id FROM webhook_dead_letter`);
      expect(entries.rows).toEqual([{ event_id: 'evt_1', target: 'we_1', attempts: 3, reason: 'delivery_failed', batch_id: 'batch_1' }]);
      const endpoints = await pool.query(`SELECT id, enabled, disabled_reason, metadata, failing_since FROM webhook_endpoints`);
      expect(endpoints.rows).toEqual([{ id: 'we_1', enabled: false, disabled_reason: '410 Gone', metadata: null, failing_since: null }]);
      // An operational event's entry belongs to no batch; a reason outside the two is refused.
      await pool.query(
        `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, attempts, target, reason)
         VALUES ('alice', NULL, 'evt_2', 'webhook.dead_lettered', 'https://example.com/hook', '{}', 3, 'we_1', 'delivery_failed')`,
      );
      await expect(
        pool.query(
          `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, attempts, target, reason)
           VALUES ('alice', 'batch_1', 'evt_3', 'completed', 'https://example.com/hook', '{}', 3, 'we_1', 'bored')`,
        ),
      ).rejects.toThrow(/check constraint/);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${older} WITH (FORCE)`);
    }
  });

  it('upgrade a database at 009 without losing a file or a request row: existing files never expire, finished batches wait for the clean-up', async () => {
    const u = new URL(url);
    const older = `${database}_009`;
    await admin.query(`CREATE DATABASE ${older}`);
    u.pathname = `/${older}`;
    const pool = createPool(u.toString(), 2);
    try {
      await pool.query(`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const name of MIGRATIONS.filter((n) => n < '010')) {
        await pool.query(await readFile(new URL(`../src/db/migrations/${name}`, import.meta.url), 'utf8'));
        await pool.query(`INSERT INTO schema_migrations (name) VALUES ($1::text)`, [name]);
      }
      await pool.query(`INSERT INTO files (id, owner, purpose, filename, bytes) VALUES ('file-1', 'alice', 'batch', 'in.jsonl', 3)`);
      await pool.query(`INSERT INTO file_chunks (file_id, seq, data) VALUES ('file-1', 0, 'abc'::bytea)`);
      await pool.query(
        `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, expires_at, completed_at)
         VALUES ('batch_1', 'alice', '/v1/chat/completions', 'file-1', '24h', 'completed', now(), now() - interval '40 days')`,
      );
      await pool.query(`INSERT INTO batch_requests (batch_id, line, custom_id, body, state) VALUES ('batch_1', 0, 'req-0', '{}', 'completed')`);

      expect(await migrate(pool)).toEqual(MIGRATIONS.filter((n) => n >= '010'));
      const files = await pool.query(`SELECT id, expires_at, (SELECT count(*)::int FROM file_chunks WHERE file_id = files.id) AS chunks FROM files`);
      expect(files.rows).toEqual([{ id: 'file-1', expires_at: null, chunks: 1 }]);
      const batches = await pool.query(`SELECT id, output_expires_after_seconds, requests_purged_at FROM batches`);
      expect(batches.rows).toEqual([{ id: 'batch_1', output_expires_after_seconds: null, requests_purged_at: null }]);
      expect((await pool.query(`SELECT 1 FROM batch_requests WHERE batch_id = 'batch_1'`)).rowCount).toBe(1);
      const indexes = await pool.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE indexname LIKE '%retention%' OR indexname LIKE '%expires%' ORDER BY 1`);
      expect(indexes.rows.map((r) => r.indexname)).toEqual(
        expect.arrayContaining(['batches_requests_retention_idx', 'files_expires_at_idx', 'webhook_delivery_attempts_retention_idx', 'webhook_events_retention_idx']),
      );
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${older} WITH (FORCE)`);
    }
  });

  it('upgrade a database at 010 without losing a batch or a request row: old batches have no model and zero usage', async () => {
    const u = new URL(url);
    const older = `${database}_010`;
    await admin.query(`CREATE DATABASE ${older}`);
    u.pathname = `/${older}`;
    const pool = createPool(u.toString(), 2);
    try {
      await pool.query(`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const name of MIGRATIONS.filter((n) => n < '011')) {
        await pool.query(await readFile(new URL(`../src/db/migrations/${name}`, import.meta.url), 'utf8'));
        await pool.query(`INSERT INTO schema_migrations (name) VALUES ($1::text)`, [name]);
      }
      await pool.query(
        `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, expires_at, total_count, completed_count)
         VALUES ('batch_1', 'alice', '/v1/chat/completions', 'file-1', '24h', 'completed', now(), 1, 1)`,
      );
      await pool.query(`INSERT INTO batch_requests (batch_id, line, custom_id, body, state, result_line) VALUES ('batch_1', 0, 'req-0', '{}', 'completed', '{}')`);

      expect(await migrate(pool)).toEqual(MIGRATIONS.filter((n) => n >= '011'));
      const batches = await pool.query(
        `SELECT id, completed_count, model, usage_input_tokens::int AS input, usage_total_tokens::int AS total, retried_from FROM batches`,
      );
      expect(batches.rows).toEqual([{ id: 'batch_1', completed_count: 1, model: null, input: 0, total: 0, retried_from: null }]);
      const requests = await pool.query(`SELECT custom_id, state, input_tokens, total_tokens FROM batch_requests`);
      expect(requests.rows).toEqual([{ custom_id: 'req-0', state: 'completed', input_tokens: null, total_tokens: null }]);
      // A retry links to its original; a retry of an unknown batch is refused.
      const retry = `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, expires_at, retried_from)
                     VALUES ($1::text, 'alice', '/v1/chat/completions', 'file-2', '24h', 'validating', now(), $2::text)`;
      await pool.query(retry, ['batch_2', 'batch_1']);
      await expect(pool.query(retry, ['batch_3', 'batch_unknown'])).rejects.toThrow(/foreign key/);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${older} WITH (FORCE)`);
    }
  });
});
