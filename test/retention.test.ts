import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { startEchoServer, type EchoServer } from '../src/upstream/echo-server.js';
import { ensureRetentionSchedule, RETENTION_SCHEDULE_ID } from '../src/worker/ensure-retention-schedule.js';
import { startWorkerRuntime } from '../src/worker/worker-runtime.js';
import { retentionCleanupWorkflow, type RetentionCleanupResult } from '../src/workflows/retention-cleanup-workflow.js';
import { getBatch, listDeadLetters, listDeliveryAttempts } from './support/api-client.js';
import { createBatch, fileLines, finishedBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { createLocalEnv } from './support/temporal.js';

const uid = () => randomUUID().slice(0, 8);

describe('the retention clean-up', () => {
  let h: Harness;
  let owner: string;
  beforeAll(async () => {
    h = await startHarness({
      // Two rows per statement: every kind of row takes several bounded rounds here.
      RETENTION_DELETE_BATCH_SIZE: '2',
      // Webhook logs kept a day; the schedule's longest wait (3 days) keeps a delivery between attempts past that.
      RETENTION_WEBHOOK_EVENTS: '1d',
      RETENTION_WEBHOOK_ATTEMPTS: '1d',
      WEBHOOK_RETRY_SCHEDULE: '5m,3d',
    });
    owner = h.config.apiKeys[0]!.owner;
  });
  afterAll(async () => {
    await h?.close();
  });

  const run = (): Promise<RetentionCleanupResult> =>
    h.env.client.workflow.execute(retentionCleanupWorkflow, { taskQueue: h.config.temporal.taskQueue, workflowId: `retention-cleanup-${uid()}` });

  const count = async (sql: string, params: unknown[]) => (await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;
  const requestRows = (batchId: string) => count(`batch_requests WHERE batch_id = $1::text`, [batchId]);

  /** Moves a finished batch's timestamps `days` into the past. */
  const age = (batchId: string, days: number) =>
    h.pool.query(
      `UPDATE batches SET created_at = created_at - make_interval(days => $2::int), in_progress_at = in_progress_at - make_interval(days => $2::int),
          finalizing_at = finalizing_at - make_interval(days => $2::int), completed_at = completed_at - make_interval(days => $2::int)
        WHERE id = $1::text`,
      [batchId, days],
    );

  /** A batch still running, as its row shows it: created long ago, requests pending. */
  async function runningBatch(daysAgo: number, requests: number) {
    const id = `batch_running_${uid()}`;
    await h.pool.query(
      `INSERT INTO batches (id, owner, endpoint, input_file_id, completion_window, status, expires_at, created_at, in_progress_at, total_count)
       VALUES ($1::text, $2::text, '/v1/chat/completions', 'file-none', '24h', 'in_progress', now() + interval '1 day',
               now() - make_interval(days => $3::int), now() - make_interval(days => $3::int), $4::int)`,
      [id, owner, daysAgo, requests],
    );
    await h.pool.query(
      `INSERT INTO batch_requests (batch_id, line, custom_id, body) SELECT $1::text, g, 'req-' || g, '{}' FROM generate_series(0, $2::int - 1) g`,
      [id, requests],
    );
    return id;
  }

  it('deletes the request rows of batches finished longer ago than the retention, never a running or recent one', async () => {
    const old = await finishedBatch(h, (await createBatch(h, chatLines(5))).id);
    const recent = await finishedBatch(h, (await createBatch(h, chatLines(3))).id);
    const outputBefore = await fileLines(h, old.output_file_id!);
    await age(old.id, 31);
    const running = await runningBatch(40, 4);
    expect(await requestRows(old.id)).toBe(5);

    await run();
    expect(await requestRows(old.id)).toBe(0);
    expect(await requestRows(recent.id)).toBe(3);
    expect(await requestRows(running)).toBe(4);
    // The batch and its results stay: only the per-request working rows are gone.
    expect((await getBatch(h, old.id)).request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect(await fileLines(h, old.output_file_id!)).toEqual(outputBefore);

    // Running it again finds nothing more to do.
    await run();
    expect(await requestRows(recent.id)).toBe(3);
    expect(await requestRows(running)).toBe(4);
  });

  it('deletes webhook events and attempts whose deliveries are over, and resolved dead letters; keeps the rest', async () => {
    const batch = await finishedBatch(h, (await createBatch(h, chatLines(1))).id);
    await age(batch.id, 31);
    const running = await runningBatch(10, 1);

    /** An event `daysAgo` old with one delivery whose attempts were made the given days ago. */
    async function event(batchId: string | null, daysAgo: number, attempts: { daysAgo: number; state?: 'started' | 'finished' }[]) {
      const id = `evt_${uid()}`;
      await h.pool.query(
        `INSERT INTO webhook_events (id, owner, batch_id, type, seq, payload, created_at)
         VALUES ($1::text, $2::text, $3::text, 'completed', $4::int, '{}', now() - make_interval(secs => $5::float8 * 86400))`,
        [id, owner, batchId, Math.floor(Math.random() * 1e9), daysAgo],
      );
      for (const [i, a] of attempts.entries()) {
        await h.pool.query(
          `INSERT INTO webhook_delivery_attempts (event_id, delivery_id, attempt, url, attempted_at, duration_ms, status_code, success, state)
           VALUES ($1::text, $2::text, $3::int, 'https://example.com/hook', now() - make_interval(secs => $4::float8 * 86400), 10, 500, false, $5::text)`,
          [id, `${id}/delivery`, i + 1, a.daysAgo, a.state ?? 'finished'],
        );
      }
      return id;
    }
    const attemptsOf = (eventId: string) => count(`webhook_delivery_attempts WHERE event_id = $1::text`, [eventId]);
    const eventExists = async (eventId: string) => (await count(`webhook_events WHERE id = $1::text`, [eventId])) === 1;

    async function deadLetter(eventId: string, state: 'pending' | 'failed' | 'succeeded', retriedDaysAgo: number | null) {
      const { rows } = await h.pool.query<{ id: number }>(
        `INSERT INTO webhook_dead_letter (owner, batch_id, event_id, event_type, webhook_url, payload, attempts, state, created_at, retried_at, retry_success)
         VALUES ($1::text, $2::text, $3::text, 'completed', 'https://example.com/hook', '{}', 3, $4::text, now() - interval '40 days',
                 now() - make_interval(days => $5::int), CASE WHEN $4::text = 'succeeded' THEN true END)
         RETURNING id`,
        [owner, batch.id, eventId, state, retriedDaysAgo],
      );
      return rows[0]!.id;
    }

    const over = await event(batch.id, 10, [{ daysAgo: 10 }, { daysAgo: 9.9 }, { daysAgo: 9.5 }]);
    const testEvent = await event(null, 5, [{ daysAgo: 5 }]);
    const inFlight = await event(batch.id, 10, [{ daysAgo: 10 }, { daysAgo: 9, state: 'started' }]);
    const betweenAttempts = await event(batch.id, 4, [{ daysAgo: 4 }, { daysAgo: 2 }]);
    const young = await event(batch.id, 0.5, [{ daysAgo: 0.5 }]);
    const ofRunningBatch = await event(running, 10, [{ daysAgo: 10 }]);
    const pendingLetter = await event(batch.id, 10, [{ daysAgo: 10 }]);
    const failedLetter = await event(batch.id, 10, [{ daysAgo: 10 }]);
    const resolvedLetter = await event(batch.id, 40, [{ daysAgo: 40 }]);
    const recentlyResolved = await event(batch.id, 10, [{ daysAgo: 10 }]);
    const pending = await deadLetter(pendingLetter, 'pending', null);
    const failed = await deadLetter(failedLetter, 'failed', 35);
    const resolved = await deadLetter(resolvedLetter, 'succeeded', 35);
    const resolvedRecently = await deadLetter(recentlyResolved, 'succeeded', 2);

    await run();

    for (const gone of [over, testEvent, resolvedLetter, recentlyResolved]) {
      expect(await attemptsOf(gone), gone).toBe(0);
    }
    for (const gone of [over, testEvent, resolvedLetter]) expect(await eventExists(gone), gone).toBe(false);
    // Its attempts are past the retention; the event goes once its entry does not hold it (the entry itself is young).
    expect(await eventExists(recentlyResolved)).toBe(false);

    expect(await attemptsOf(inFlight)).toBe(2);
    expect(await attemptsOf(betweenAttempts)).toBe(2);
    expect(await attemptsOf(young)).toBe(1);
    expect(await attemptsOf(ofRunningBatch)).toBe(1);
    expect(await attemptsOf(pendingLetter)).toBe(1);
    expect(await attemptsOf(failedLetter)).toBe(1);
    for (const kept of [inFlight, betweenAttempts, young, ofRunningBatch, pendingLetter, failedLetter]) expect(await eventExists(kept), kept).toBe(true);

    const entries = (await listDeadLetters(h, `?batch_id=${batch.id}&limit=100`)).data.map((e) => e.id);
    expect(entries.sort()).toEqual([pending, failed, resolvedRecently].sort());
    expect(entries).not.toContain(resolved);

    // The delivery log of the batch shows what is left.
    const log = (await listDeliveryAttempts(h, batch.id, '?limit=100')).data;
    expect(log.length).toBe(2 + 2 + 1 + 1 + 1);
  });

  it('cannot be scheduled on the time-skipping server, which has no schedules: that is reported, not thrown', async () => {
    expect(await ensureRetentionSchedule(h.env.client, { taskQueue: h.config.temporal.taskQueue, intervalSeconds: 3600 })).toBe('unsupported');
  });
});

describe('the retention-cleanup schedule', () => {
  let env: TestWorkflowEnvironment;
  let pool: Pool;
  let echo: EchoServer;
  beforeAll(async () => {
    env = await createLocalEnv();
    pool = createPool(inject('databaseUrl'), 3);
    echo = await startEchoServer({});
  });
  afterAll(async () => {
    await env?.teardown();
    await pool?.end();
    await echo?.stop();
  });

  it('is created by the worker at start-up on a real server, runs the clean-up, and creating it again changes nothing', async () => {
    const taskQueue = `retention-${uid()}`;
    const config = parseConfig({
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      RETENTION_CLEANUP_INTERVAL: '2h',
      LOG_LEVEL: 'silent',
    });
    const runtime = startWorkerRuntime({ ...config, temporal: { ...config.temporal, address: env.address } }, pool, createLogger('silent', 'test'), echo.url);
    try {
      const handle = env.client.schedule.getHandle(RETENTION_SCHEDULE_ID);
      const described = await waitFor(() => handle.describe(), 'the schedule');
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'retentionCleanupWorkflow', taskQueue });
      expect(described.spec.intervals?.map((i) => i.every)).toEqual([2 * 3600_000]);
      expect(described.policies.overlap).toBe('SKIP');

      // Operators can run it from the UI; here it is triggered and its run awaited.
      await handle.trigger();
      const action = await waitFor(async () => {
        const found = (await handle.describe()).info.recentActions[0];
        if (!found) throw new Error('no action yet');
        return found;
      }, 'the triggered run');
      const result = await env.client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId).result();
      expect(result).toMatchObject({ unfinished: [] });

      const client = new Client({ connection: env.connection });
      expect(await ensureRetentionSchedule(client, { taskQueue, intervalSeconds: 7200 })).toBe('unchanged');
      // A paused schedule stays paused when a worker with another interval updates it.
      await handle.pause('maintenance');
      expect(await ensureRetentionSchedule(client, { taskQueue, intervalSeconds: 3600 })).toBe('updated');
      const updated = await handle.describe();
      expect(updated.spec.intervals?.map((i) => i.every)).toEqual([3600_000]);
      expect(updated.state.paused).toBe(true);
      expect(await ensureRetentionSchedule(client, { taskQueue, intervalSeconds: 3600 })).toBe('unchanged');
    } finally {
      runtime.stop();
      await runtime.done;
    }
  });
});

/** Calls `check` until it stops throwing (a real server answers within seconds). */
async function waitFor<T>(check: () => Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${(err as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
