import { Worker } from '@temporalio/worker';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { createLogger } from '../src/shared/logger.js';
import { createUpstreamClient } from '../src/upstream/upstream-client.js';
import { createWebhookDispatcher } from '../src/webhooks/url-guard.js';
import { bundleWorkflows } from '../src/worker/bundle-workflows.js';
import { batchWorkflowId } from '../src/workflows/workflow-ids.js';
import { bodyOf, errorOf, getBatch as getBatchOf, type BatchObject, type ErrorBody } from './support/api-client.js';
import { batchOutcome, createBatch as createBatchOf, fileLines as resultLinesOf } from './support/batches.js';
import { BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Requests with this delay never answer while a test runs: they stay in flight until cut off. */
const NEVER_ANSWERS = { echo_delay_ms: 600_000 };

const createBatch = async (harness: Harness, lines: string) => (await createBatchOf(harness, lines)).id;

const getBatch = (harness: Harness, id: string) => getBatchOf(harness, id);

const outcome = (harness: Harness, id: string) => batchOutcome(harness, id);

/** Output and error lines of chat requests; a missing file id fails the read. */
const fileLines = (harness: Harness, fileId: string | null) => resultLinesOf<OpenAI.ChatCompletion>(harness, fileId!);

/**
 * Polls the public API until the batch satisfies `done`. Used only to learn
 * that the echo upstream has answered some requests, which nothing can await.
 */
async function waitForBatch(id: string, done: (batch: BatchObject) => boolean, what: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const batch = await getBatch(h, id);
    if (done(batch)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} never reached: ${what}; last seen ${JSON.stringify(batch)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const customIds = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `req-${from + i}`);

/**
 * A worker like the harness's, but without a sticky workflow cache, for the
 * tests that replace workers mid-batch. The time-skipping test server has no
 * sticky schedule-to-start timeout and no ShutdownWorker call, so a workflow
 * last run by a sticky worker that has gone would never get its next task.
 * `upstreamDown`: the worker's upstream client is closed, so every request it
 * tries to send throws and the chunk activity fails as a whole.
 */
async function startReplaceableWorker({ upstreamDown = false } = {}) {
  const upstream = createUpstreamClient({ ...h.config.upstream, baseUrl: h.echo.url });
  if (upstreamDown) await upstream.close();
  const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: h.config.webhook.allowPrivateNetworks });
  const worker = await Worker.create({
    connection: h.env.nativeConnection,
    namespace: 'default',
    taskQueue: h.config.temporal.taskQueue,
    workflowBundle: await bundleWorkflows(),
    activities: createActivities({ pool: h.pool, upstream, webhookDispatcher, config: h.config, log: createLogger('silent', 'test') }),
    shutdownGraceTime: '1s',
    maxCachedWorkflows: 0,
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    /** Like SIGTERM: in-flight chunks get 1 s, then are cut off and handed back to Temporal. */
    stop() {
      stopped ??= (async () => {
        worker.shutdown();
        await running;
        await upstream.close();
        await webhookDispatcher.close();
      })();
      return stopped;
    },
  };
}

/** Runs `fn` with the harness worker stopped; the workers `fn` starts are stopped afterwards. */
async function withOwnWorkers(fn: (startWorker: typeof startReplaceableWorker) => Promise<void>) {
  await h.stopWorker();
  const started: Awaited<ReturnType<typeof startReplaceableWorker>>[] = [];
  try {
    await fn(async (opts) => {
      const worker = await startReplaceableWorker(opts);
      started.push(worker);
      return worker;
    });
  } finally {
    for (const worker of started) await worker.stop();
    await h.startWorker();
  }
}

describe('the 24 h completion window', () => {
  it('expires a batch that cannot finish: finished requests kept, the rest batch_expired', async () => {
    let id!: string;
    await withOwnWorkers(async (startWorker) => {
      const healthy = await startWorker();
      // Chunks of 5, two at a time: lines 0-6 answer at once, 7-9 never do.
      id = await createBatch(h, chatLines(10, (i) => (i >= 7 ? NEVER_ANSWERS : {})));
      await waitForBatch(id, (b) => b.request_counts.completed === 7, '7 requests completed');
      await healthy.stop();

      // The next worker cannot send anything upstream, so every attempt of the unfinished
      // chunk fails and Temporal retries it with backoff (which the test server skips)
      // until the workflow's 24 h timer fires.
      await startWorker({ upstreamDown: true });
      expect(await outcome(h, id)).toBe('expired');
    });

    const batch = await getBatch(h, id);
    expect(batch.status).toBe('expired');
    expect(batch.expired_at).toEqual(expect.any(Number));
    expect(batch.completed_at).toBeNull();
    expect(batch.request_counts).toEqual({ total: 10, completed: 7, failed: 3 });
    const output = await fileLines(h, batch.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(customIds(0, 7));
    expect(output.every((l) => l.error === null && l.response?.status_code === 200)).toBe(true);
    const errors = await fileLines(h, batch.error_file_id);
    expect(errors.map((l) => l.custom_id)).toEqual(customIds(7, 10));
    for (const line of errors) {
      expect(line).toMatchObject({ response: null, error: { code: 'batch_expired', message: expect.any(String) } });
      expect(line.id).toMatch(/^batch_req_/);
    }
  });
});

describe('cancelling a batch', () => {
  it('stops in-flight requests, keeps finished ones and reports the rest as batch_cancelled', async () => {
    const id = await createBatch(h, chatLines(10, (i) => (i >= 7 ? NEVER_ANSWERS : {})));
    await waitForBatch(id, (b) => b.request_counts.completed === 7, '7 requests completed');

    const res = await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    const cancelling = await bodyOf<BatchObject>(res);
    expect(cancelling).toMatchObject({ id, object: 'batch', status: 'cancelling', cancelled_at: null });
    expect(cancelling.cancelling_at).toEqual(expect.any(Number));

    // A second cancel while the first is under way is harmless.
    const again = await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain((await bodyOf<BatchObject>(again)).status);

    expect(await outcome(h, id)).toBe('cancelled');
    const batch = await getBatch(h, id);
    expect(batch.status).toBe('cancelled');
    expect(batch.cancelled_at).toEqual(expect.any(Number));
    expect(batch.cancelling_at).toBe(cancelling.cancelling_at);
    expect(batch.request_counts).toEqual({ total: 10, completed: 7, failed: 3 });
    const output = await fileLines(h, batch.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(customIds(0, 7));
    expect(output[6]!.response!.body.choices[0]!.message.content).toContain('hello 6');
    const errors = await fileLines(h, batch.error_file_id);
    expect(errors.map((l) => l.custom_id)).toEqual(customIds(7, 10));
    for (const line of errors) expect(line).toMatchObject({ response: null, error: { code: 'batch_cancelled' } });

    // Cancelling a cancelled batch is still fine and changes nothing.
    const late = await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' });
    expect(late.status).toBe(200);
    expect(await late.json()).toEqual(batch);
  });

  it('cancels a batch before any worker has picked it up without sending anything upstream', async () => {
    let id!: string;
    const sentBefore = h.echo.stats().requests;
    await h.stopWorker();
    try {
      id = await createBatch(h, chatLines(6));
      const res = await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id, status: 'cancelling', in_progress_at: null });
    } finally {
      await h.startWorker();
    }
    expect(await outcome(h, id)).toBe('cancelled');
    const batch = await getBatch(h, id);
    expect(batch).toMatchObject({ status: 'cancelled', output_file_id: null, request_counts: { total: 6, completed: 0, failed: 6 } });
    const errors = await fileLines(h, batch.error_file_id);
    expect(errors.map((l) => [l.custom_id, l.error!.code])).toEqual(customIds(0, 6).map((c) => [c, 'batch_cancelled']));
    expect(h.echo.stats().requests).toBe(sentBefore);
  });

  it('refuses to cancel a finished batch with 409, and answers 404 for ids it does not know', async () => {
    const failedId = await createBatch(h, '{not json');
    expect(await outcome(h, failedId)).toBe('failed');
    const refused = await h.api(`/v1/batches/${failedId}/cancel`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({ code: 'batch_not_cancellable', message: expect.stringContaining('failed') });

    const id = await createBatch(h, chatLines(2));
    expect(await outcome(h, id)).toBe('completed');

    const res = await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(409);
    const body = await bodyOf<ErrorBody>(res);
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'batch_not_cancellable', message: expect.stringContaining('completed') });
    expect((await getBatch(h, id)).status).toBe('completed');

    for (const [path, key] of [
      ['/v1/batches/batch_doesnotexist/cancel', undefined],
      [`/v1/batches/${id}/cancel`, BOB_KEY], // someone else's batch
    ] as const) {
      const missing = await h.api(path, { method: 'POST', key });
      expect(missing.status).toBe(404);
      const error = await errorOf(missing);
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'not_found', message: expect.any(String) });
    }
  });
});

describe('a worker that goes away mid-batch', () => {
  it('hands its chunks back; the next worker finishes every request exactly once', async () => {
    let id!: string;
    await withOwnWorkers(async (startWorker) => {
      const first = await startWorker();
      // Two chunks of 5 run at once; lines 3-4 of each answer only after 3 s, longer than the
      // worker's 1 s shutdown grace, so they are cut off mid-request.
      id = await createBatch(h, chatLines(15, (i) => (i % 5 >= 3 ? { echo_delay_ms: 3_000 } : {})));
      await waitForBatch(id, (b) => b.request_counts.completed >= 3, 'some requests completed');
      await first.stop();
      expect((await getBatch(h, id)).request_counts.completed).toBeLessThan(15);

      await startWorker();
      expect(await outcome(h, id)).toBe('completed');
    });

    const batch = await getBatch(h, id);
    expect(batch.request_counts).toEqual({ total: 15, completed: 15, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    const output = await fileLines(h, batch.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(customIds(0, 15));
    expect(new Set(output.map((l) => l.id)).size).toBe(15);
    for (const line of output) expect(line.response!.body.choices[0]!.message.content).toContain(`hello ${line.custom_id.slice(4)}`);
  });
});

describe('continue-as-new', () => {
  let small: Harness;
  beforeAll(async () => {
    small = await startHarness({ BATCH_CHUNK_SIZE: '1', BATCH_CONTINUE_AS_NEW_EVENTS: '50' });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('runs a 60-chunk batch as a chain of short runs and completes it exactly', async () => {
    const id = await createBatch(small, chatLines(60));
    expect(await outcome(small, id)).toBe('completed');

    const batch = await getBatch(small, id);
    expect(batch.request_counts).toEqual({ total: 60, completed: 60, failed: 0 });
    const output = await fileLines(small, batch.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(customIds(0, 60));

    // Walk the run chain backwards from the latest run.
    const workflowId = batchWorkflowId(id);
    const latest = await small.env.client.workflow.getHandle(workflowId).describe();
    expect(latest.status.name).toBe('COMPLETED');
    const runs: { runId: string; events: any[] }[] = [];
    for (let runId: string | undefined = latest.runId; runId; ) {
      const events: any[] = (await small.env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
      runs.unshift({ runId, events });
      const started: any = events[0]?.workflowExecutionStartedEventAttributes;
      expect(started).toBeTruthy();
      runId = started.continuedExecutionRunId || undefined;
    }
    expect(runs.length).toBeGreaterThan(1);
    const firstRunId = runs[0]!.runId;
    for (const [i, run] of runs.entries()) {
      expect(run.events.length).toBeLessThan(100);
      expect(run.events[0].workflowExecutionStartedEventAttributes.firstExecutionRunId).toBe(firstRunId);
      const last = run.events[run.events.length - 1];
      if (i < runs.length - 1) expect(last.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
      else expect(last.workflowExecutionCompletedEventAttributes).toBeTruthy();
    }
  });
});
