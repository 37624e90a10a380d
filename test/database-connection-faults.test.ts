import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createPool, inTransaction, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { ALICE_KEY, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
let admin: Pool;
beforeAll(async () => {
  h = await startHarness();
  admin = createPool(inject('databaseUrl'), 1);
});
afterAll(async () => {
  await admin?.end();
  await h?.close();
});

/** A pool whose connections carry `name`, so this test kills only its own backends. */
function namedPool(name: string): Pool {
  const url = new URL(inject('databaseUrl'));
  url.searchParams.set('application_name', name);
  return createPool(url.toString(), 2);
}

async function waitForBackendInTransaction(name: string): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1::text AND xact_start IS NOT NULL`,
      [name],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no backend of ${name} opened a transaction`);
}

const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1::int)', [pid]);

/** Errors that escaped to the top: each would take a production process down. */
const escaped: unknown[] = [];
const recordEscaped = (err: unknown) => void escaped.push(err);
beforeAll(() => void process.on('uncaughtException', recordEscaped));
afterAll(() => void process.off('uncaughtException', recordEscaped));

describe('a Postgres connection dying while a client is checked out', () => {
  it('fails that one transaction, keeps the process alive and the pool usable', async () => {
    const name = `tx-fault-${Math.random().toString(36).slice(2, 8)}`;
    const pool = namedPool(name);
    try {
      // Settled into a value at once, so the rejection is never "unhandled" while the test waits.
      const outcome = inTransaction(pool, async (client) => {
        await client.query('SELECT 1');
        await client.query('SELECT pg_sleep(30)');
      }).then(
        () => 'committed',
        (err: Error) => err,
      );
      await terminate(await waitForBackendInTransaction(name));
      expect(await outcome).toBeInstanceOf(Error);
      // The broken client was destroyed, not handed out again.
      const { rows } = await pool.query<{ ok: number }>('SELECT 1 AS ok');
      expect(rows[0]!.ok).toBe(1);
      await expect(inTransaction(pool, async (c) => (await c.query('SELECT 2 AS n')).rows[0].n)).resolves.toBe(2);
      expect(escaped).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('answers an upload cut off by the database with a JSON error and stores nothing', async () => {
    const name = `upload-fault-${Math.random().toString(36).slice(2, 8)}`;
    const pool = namedPool(name);
    const app = createApp({ pool, temporal: h.env.client, config: h.config, log: createLogger('silent', 'test') });
    try {
      const boundary = 'b0undary';
      const encoder = new TextEncoder();
      let push!: (text: string | null) => void;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          push = (text) => (text === null ? controller.close() : controller.enqueue(encoder.encode(text)));
        },
      });
      push(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`);
      push(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.jsonl"\r\n\r\n`);
      push(`${'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}\n'.repeat(100)}`);
      const response = app.request('/v1/files', {
        method: 'POST',
        headers: { authorization: `Bearer ${ALICE_KEY}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
        duplex: 'half',
      } as RequestInit);
      await terminate(await waitForBackendInTransaction(name));
      push(`${'{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{}}\n'.repeat(100)}`);
      push(`\r\n--${boundary}--\r\n`);
      push(null);

      const res = await response;
      expect(res.status).toBe(503);
      const error = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('database_unavailable');

      // Nothing half-written is visible, and the next upload on the same pool works.
      const list = (await (await app.request('/v1/files', { headers: { authorization: `Bearer ${ALICE_KEY}` } })).json()) as {
        data: { filename: string }[];
      };
      expect(list.data.map((f) => f.filename)).not.toContain('cut.jsonl');
      const form = new FormData();
      form.set('purpose', 'batch');
      form.set('file', new Blob(['{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{}}\n']), 'after.jsonl');
      const ok = await app.request('/v1/files', { method: 'POST', body: form, headers: { authorization: `Bearer ${ALICE_KEY}` } });
      expect(ok.status).toBe(200);
      expect(escaped).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});
