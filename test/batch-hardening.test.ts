import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asBatchStep } from '../src/activities/batch-activities.js';
import type { createActivities } from '../src/activities/index.js';
import { saveFinishedRequests } from '../src/db/batch-requests.js';
import { addRequestCounts, insertBatch } from '../src/db/batches.js';
import { inTransaction } from '../src/db/pool.js';
import type { batchWorkflow } from '../src/workflows/batch-workflow.js';
import { batchWorkflowId } from '../src/workflows/workflow-ids.js';
import { getBatch as getBatchOf, type BatchObject } from './support/api-client.js';
import { batchOutcome, createBatch as createBatchOf, fileLines as resultLinesOf, type ResultLine } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

const createBatch = async (harness: Harness, lines: string) => (await createBatchOf(harness, lines)).id;

const getBatch = (harness: Harness, id: string) => getBatchOf(harness, id);

/** A file's lines; none when the batch has no such file. */
async function fileLines(harness: Harness, fileId: string | null): Promise<ResultLine[]> {
  return fileId === null ? [] : resultLinesOf(harness, fileId);
}

/** The workflow's outcome, or a failure after `ms`: a batch that hangs must fail the test, not time it out. */
function outcomeWithin(harness: Harness, id: string, ms: number): Promise<string> {
  return Promise.race([
    batchOutcome(harness, id),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`batch ${id} did not end within ${ms} ms`)), ms).unref()),
  ]);
}

/** Polls until `check` holds: for what nothing can await (upstream progress, a worker's internals, Postgres locks). */
async function until<T>(check: () => Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Counts equal the files line for line, and every request is in exactly one of them. */
async function expectCountsMatchFiles(harness: Harness, batch: BatchObject, total: number) {
  const output = await fileLines(harness, batch.output_file_id);
  const errors = await fileLines(harness, batch.error_file_id);
  expect(batch.request_counts).toEqual({ total, completed: output.length, failed: errors.length });
  const ids = [...output, ...errors].map((l) => l.custom_id).sort();
  expect(ids).toEqual(Array.from({ length: total }, (_, i) => `req-${i}`).sort());
  return { output, errors };
}

describe('on the time-skipping server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Runs `fn` with the harness worker replaced by one whose activity count can be watched. */
  const withWatchedWorker = (fn: (worker: Worker) => Promise<void>, override: Partial<ReturnType<typeof createActivities>> = {}) =>
    h.withWorker(() => override, fn);

  describe('counts after a cancel', () => {
    it('never change once the batch is cancelled, and equal the files line for line', async () => {
      await withWatchedWorker(async (worker) => {
        // 4 chunks of 5 run at once, each answering one request a second; chunk k starts answering
        // 1.5·k s later, so when the batch is cancelled each chunk still has answers to come.
        const delay = (i: number) => 1_000 * ((i % 5) + 1) + 1_500 * (Math.floor(i / 5) % 4);
        const id = await createBatch(h, chatLines(40, (i) => ({ echo_delay_ms: delay(i) })));
        // Cancel after the chunks' first heartbeat (2 s): they learn of it only at a later one, or not at all.
        await until(async () => (await getBatch(h, id)).request_counts.completed >= 3, '3 requests completed');
        expect((await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' })).status).toBe(200);
        expect(await outcomeWithin(h, id, 90_000)).toBe('cancelled');
        const atCancel = await getBatch(h, id);

        // Whatever was still running drains; nothing it does may show.
        await until(async () => worker.getStatus().numInFlightActivities === 0, 'activities drained');
        const later = await getBatch(h, id);
        expect(later).toEqual(atCancel);
        const { errors } = await expectCountsMatchFiles(h, later, 40);
        for (const line of errors) expect(line.error!.code).toBe('batch_cancelled');
      });
    });

    it('a result that arrives after the batch is final changes no row and no count', async () => {
      await h.stopWorker();
      let id!: string;
      try {
        // No worker: the batch is cancelled before anything runs, so every row was pending.
        id = await createBatch(h, chatLines(6));
        expect((await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' })).status).toBe(200);
      } finally {
        await h.startWorker();
      }
      expect(await outcomeWithin(h, id, 60_000)).toBe('cancelled');
      const final = await getBatch(h, id);

      // A straggling chunk on a partitioned worker flushes its results now, as its flush does.
      const late = [0, 1, 2].map((line) => ({ line, state: 'completed' as const, resultLine: JSON.stringify({ custom_id: `req-${line}`, late: true }) }));
      await inTransaction(h.pool, async (client) => {
        const changed = await saveFinishedRequests(client, id, late);
        await addRequestCounts(client, id, changed.completed, changed.failed);
      });
      const after = await getBatch(h, id);
      expect(after).toEqual(final);
      const { errors } = await expectCountsMatchFiles(h, after, 6);
      expect(errors).toHaveLength(6);
      const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM batch_requests WHERE batch_id = $1 AND state <> 'failed'`, [id]);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('input that Postgres cannot store', () => {
    const line = (customId: string, content = 'hi') =>
      JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'echo', messages: [{ role: 'user', content }] } });

    it('a NUL in custom_id fails the batch with a line error instead of retrying forever', async () => {
      const id = await createBatch(h, [line('ok'), line('bad\u0000id')].join('\n'));
      expect(await outcomeWithin(h, id, 30_000)).toBe('failed');
      const batch = await getBatch(h, id);
      expect(batch.status).toBe('failed');
      expect(batch.errors!.data).toEqual([{ code: 'invalid_json_line', message: expect.stringContaining('NUL'), param: 'custom_id', line: 2 }]);
    });

    it('a NUL in the body is a line error too', async () => {
      const id = await createBatch(h, [line('a'), line('b'), line('c', 'nul \u0000 here')].join('\n'));
      expect(await outcomeWithin(h, id, 30_000)).toBe('failed');
      expect((await getBatch(h, id)).errors!.data).toEqual([{ code: 'invalid_json_line', message: expect.stringContaining('NUL'), param: 'body', line: 3 }]);
    });

    it('a step Postgres refuses for its data fails the batch with an OpenAI-shaped error', async () => {
      await withWatchedWorker(
        async () => {
          const id = await createBatch(h, chatLines(2));
          expect(await outcomeWithin(h, id, 30_000)).toBe('failed');
          const batch = await getBatch(h, id);
          expect(batch.errors).toEqual({
            object: 'list',
            data: [{ code: 'invalid_data', message: expect.stringContaining('SQLSTATE 22021'), param: null, line: null }],
          });
        },
        // A real Postgres data error, raised inside the step as validation would meet it.
        {
          validateBatchInput: () =>
            asBatchStep(async () => {
              await h.pool.query(`SELECT $1::text`, ['\u0000']);
              return { ok: true as const, total: 0 };
            }),
        },
      );
    });

    it('accepts a UTF-8 byte order mark at the start of the input file', async () => {
      const id = await createBatch(h, `\uFEFF${chatLines(3)}`);
      expect(await outcomeWithin(h, id, 30_000)).toBe('completed');
      expect((await getBatch(h, id)).request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    });
  });

  describe('a workflow started before its batch row is committed', () => {
    it('waits for the row and then runs the batch', async () => {
      const batchId = `batch_late${Math.random().toString(36).slice(2, 12)}`;
      const inputFileId = await h.upload(chatLines(3));
      const handle = await h.env.client.workflow.start<typeof batchWorkflow>('batchWorkflow', {
        taskQueue: h.config.temporal.taskQueue,
        workflowId: batchWorkflowId(batchId),
        args: [{ batchId }],
      });
      // The API commits only after the start: let the workflow look once and find nothing.
      await until(async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        return events.some((e) => e.activityTaskCompletedEventAttributes);
      }, 'a first look for the batch row');
      const { rows } = await h.pool.query<{ owner: string }>(`SELECT owner FROM files WHERE id = $1`, [inputFileId]);
      await inTransaction(h.pool, (client) =>
        insertBatch(client, {
          id: batchId,
          owner: rows[0]!.owner,
          endpoint: '/v1/chat/completions',
          inputFileId,
          completionWindow: '24h',
          expiresAt: new Date(Date.now() + 24 * 3600 * 1000),
          metadata: null,
          idempotencyKey: null,
          requestFingerprint: 'test',
          webhook: null,
        }),
      );
      expect(await handle.result()).toBe('completed');
      expect((await getBatch(h, batchId)).request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    });
  });

  describe('a workflow whose batch row never appears', () => {
    it('ends abandoned after about a minute, writing nothing', async () => {
      const batchId = `batch_never${Math.random().toString(36).slice(2, 12)}`;
      const handle = await h.env.client.workflow.start<typeof batchWorkflow>('batchWorkflow', {
        taskQueue: h.config.temporal.taskQueue,
        workflowId: batchWorkflowId(batchId),
        args: [{ batchId }],
      });
      expect(await handle.result()).toBe('abandoned');
      for (const table of ['batches', 'batch_requests', 'webhook_events']) {
        const column = table === 'batches' ? 'id' : 'batch_id';
        const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [batchId]);
        expect(rows[0].n, table).toBe(0);
      }
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
      expect(new Set(scheduled)).toEqual(new Set(['loadBatchPlan']));
      expect(scheduled.length).toBeGreaterThan(1); // it looked more than once before giving up
      expect(events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
    });
  });
});

describe('a worker that dies mid-step (dev server, real time)', () => {
  let h: Harness;
  let bundlePath: string;
  beforeAll(async () => {
    h = await startHarness({}, { server: 'dev-server' });
    await h.stopWorker(); // worker processes below do the work, and die
    bundlePath = path.join(await mkdtemp(path.join(os.tmpdir(), 'bundle-')), 'workflow-bundle.js');
    const build = spawnSync(process.execPath, ['--import', 'tsx', 'src/worker/build-workflow-bundle.ts', bundlePath], { cwd: REPO, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** `npm run worker` in its own process, so that it can be killed outright (SIGKILL: no shutdown, no hand-back). */
  async function startWorkerProcess(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: h.env.address,
        TEMPORAL_TASK_QUEUE: h.config.temporal.taskQueue,
        UPSTREAM_BASE_URL: h.echo.url,
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
        WORKFLOW_BUNDLE_PATH: bundlePath,
        BATCH_CHUNK_SIZE: '5',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await until(async () => output.includes('"msg":"worker started"') || child.exitCode !== null, 'worker process started');
    if (child.exitCode !== null) throw new Error(`worker process exited: ${output}`);
    return child;
  }

  async function kill(child: ChildProcess) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }

  /** A backend of some worker is waiting for a lock in a statement starting with `sql`. */
  const blockedOn = (sql: string) => async () => {
    const { rows } = await h.pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1::text || '%'`,
      [sql],
    );
    return rows[0].n > 0;
  };

  it('costs about a minute in validation and in finalization, not 30', async () => {
    const id = await createBatch(h, chatLines(20));
    const suffix = id.replace(/^batch_/, '');
    // The test's own transactions hold locks a step needs, so it is surely mid-step when its worker dies.
    const holder = await h.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM batches WHERE id = $1 FOR UPDATE`, [id]);
      const first = await startWorkerProcess();
      // Storing the requests checks the batch row's key, which the test holds.
      await until(blockedOn('INSERT INTO batch_requests'), 'validation waiting for the batch row');
      await kill(first);
      await holder.query('ROLLBACK');

      await holder.query('BEGIN');
      await holder.query(`INSERT INTO files (id, owner, purpose, filename) VALUES ($1, 'test', 'batch_output', 'x')`, [`file-out-${suffix}`]);
      const second = await startWorkerProcess();
      const restartedAt = Date.now();
      await until(blockedOn('INSERT INTO files'), 'validation retried, requests sent, finalization started', 90_000);
      expect(Date.now() - restartedAt).toBeLessThan(75_000);
      await kill(second);
      await holder.query('ROLLBACK');

      const third = await startWorkerProcess();
      const thirdStartedAt = Date.now();
      try {
        expect(await outcomeWithin(h, id, 90_000)).toBe('completed');
        expect(Date.now() - thirdStartedAt).toBeLessThan(75_000);
      } finally {
        await kill(third);
      }
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    const batch = await getBatch(h, id);
    expect(batch.status).toBe('completed');
    const { output } = await expectCountsMatchFiles(h, batch, 20);
    expect(output).toHaveLength(20);
  }, 300_000);
});
