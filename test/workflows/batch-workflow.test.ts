import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BATCH_DATA_ERROR,
  cancelBatchSignal,
  type BatchOutcome,
  type BatchPlan,
  type WebhookDeliveryResult,
} from '../../src/workflows/contracts.js';
import { ensureSearchAttributes } from '../../src/worker/ensure-search-attributes.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { createTestEnv } from '../support/temporal.js';
import { deferred, stubActivities, untilCancelled, withWorker, type Activities } from './stub-worker.js';

/**
 * The batch workflow's decisions on the time-skipping server, with stub
 * activities: what it calls, in which order, and how each run ends. The
 * full-stack tests (test/batch-*.test.ts) show the same paths through the API.
 */
let env: TestWorkflowEnvironment;
// One server per test, not per file: once a workflow has started an abandoned child (every
// lifecycle event does), the test server stops skipping time for good (temporalio/sdk-typescript#1101).
beforeEach(async () => {
  env = await createTestEnv();
  // Deliveries of lifecycle events are started with these search attributes.
  await ensureSearchAttributes(env.nativeConnection, 'default');
});
afterEach(async () => {
  await env?.teardown();
});

const HOUR_MS = 60 * 60 * 1000;
let batchCount = 0;
const newBatchId = () => `batch_wf${Date.now().toString(36)}${++batchCount}`;

function planOf(overrides: Omit<Partial<BatchPlan>, 'tuning'> & { tuning?: Partial<BatchPlan['tuning']> } = {}): BatchPlan {
  const { tuning, ...rest } = overrides;
  return {
    endpoint: '/v1/chat/completions',
    completionWindowMs: 24 * HOUR_MS,
    webhook: { url: 'https://hooks.example/batches', events: ['completed', 'failed', 'cancelled', 'expired'], maxAttempts: 3, timeoutSeconds: 10 },
    webhookRetry: { initialSeconds: 1, backoff: 2, maxIntervalSeconds: 60 },
    ...rest,
    tuning: { chunkSize: 5, chunkConcurrency: 2, progressIntervalSeconds: 3600, continueAsNewEvents: 10_000, ...tuning },
  };
}

/** A batch of `total` requests whose every step succeeds; `overrides` replace single steps. */
function batchActivities(plan: BatchPlan | null, total: number, overrides: Partial<Activities> = {}) {
  return stubActivities({
    loadBatchPlan: async () => plan,
    validateBatchInput: async () => ({ ok: true, total }),
    processRequestRange: async ({ fromLine, toLine }) => ({ saved: toLine - fromLine }),
    finalizeBatch: async () => ({ completed: total, failed: 0 }),
    failBatch: async () => undefined,
    // The owner has no registered endpoints: events go to the batch's webhook alone.
    recordLifecycleEvent: async ({ event, seq, batchWebhook }) => (batchWebhook ? { eventId: `evt_${event}_${seq}`, endpoints: [] } : null),
    // Lifecycle events are delivered by child workflows on the same worker; the receiver takes them.
    prepareWebhookAttempt: async () => ({ alreadyStarted: false, outcome: null }),
    sendWebhook: async () => ({ kind: 'delivered', statusCode: 200, responseBody: 'ok', attemptedAt: Date.now(), durationMs: 1 }),
    recordWebhookAttemptOutcome: async () => ({ disabledEndpoint: null }),
    ...overrides,
  });
}

const BATCH_STEPS = new Set(['loadBatchPlan', 'validateBatchInput', 'processRequestRange', 'finalizeBatch', 'failBatch', 'recordLifecycleEvent']);

function startBatch(taskQueue: string, batchId: string) {
  return env.client.workflow.start('batchWorkflow', { taskQueue, workflowId: batchWorkflowId(batchId), args: [{ batchId }] });
}

const runBatch = async (taskQueue: string, batchId: string): Promise<BatchOutcome> => (await startBatch(taskQueue, batchId)).result();

const delivery = (batchId: string, event: string): Promise<WebhookDeliveryResult> =>
  env.client.workflow.getHandle(webhookDeliveryWorkflowId(batchId, event, 1)).result();

describe('batch workflow', () => {
  it('completes: validates, runs every chunk once, finalizes as completed and tells the webhook', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities(planOf(), 12);
    await withWorker(env, activities, async (taskQueue) => {
      expect(await runBatch(taskQueue, batchId)).toBe('completed');
      expect(await delivery(batchId, 'completed')).toEqual({ status: 'delivered', attempts: 1, statusCode: 200 });
    });
    const steps = log.names().filter((name) => BATCH_STEPS.has(name));
    expect(steps).toEqual(['loadBatchPlan', 'validateBatchInput', 'processRequestRange', 'processRequestRange', 'processRequestRange', 'finalizeBatch', 'recordLifecycleEvent']);
    expect(log.inputsOf('processRequestRange').map(({ fromLine, toLine }) => [fromLine, toLine]).sort((a, b) => a[0]! - b[0]!)).toEqual([
      [0, 5],
      [5, 10],
      [10, 12],
    ]);
    expect(log.inputsOf('finalizeBatch')).toEqual([{ batchId, status: 'completed' }]);
    expect(log.inputsOf('recordLifecycleEvent')).toEqual([{ batchId, event: 'completed', seq: 1, batchWebhook: true }]);
  });

  it('fails when validation rejects the input: a failed event, no chunks, nothing finalized', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities(planOf(), 0, { validateBatchInput: async () => ({ ok: false }) });
    await withWorker(env, activities, async (taskQueue) => {
      expect(await runBatch(taskQueue, batchId)).toBe('failed');
      expect(await delivery(batchId, 'failed')).toMatchObject({ status: 'delivered' });
    });
    // Validation already recorded its line errors on the batch: failBatch is not called again.
    expect(log.names().filter((name) => BATCH_STEPS.has(name))).toEqual(['loadBatchPlan', 'validateBatchInput', 'recordLifecycleEvent']);
    expect(log.inputsOf('recordLifecycleEvent')).toEqual([{ batchId, event: 'failed', seq: 1, batchWebhook: true }]);
  });

  it('keeps at most chunkConcurrency chunks in flight', async () => {
    const batchId = newBatchId();
    let inFlight = 0;
    let maxInFlight = 0;
    let finished = 0;
    let finishedWhenFinalized = -1;
    const windowFull = deferred();
    const { activities, log } = batchActivities(planOf({ tuning: { chunkSize: 5, chunkConcurrency: 3 } }), 48, {
      processRequestRange: async ({ fromLine, toLine }) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (inFlight === 3) windowFull.resolve();
        // The first chunks wait until the window is full, so the bound is actually reached.
        await windowFull.promise;
        inFlight -= 1;
        finished += 1;
        return { saved: toLine - fromLine };
      },
      finalizeBatch: async () => {
        finishedWhenFinalized = finished;
        return { completed: 48, failed: 0 };
      },
    });
    await withWorker(env, activities, async (taskQueue) => {
      expect(await runBatch(taskQueue, batchId)).toBe('completed');
      expect(await delivery(batchId, 'completed')).toMatchObject({ status: 'delivered' });
    });
    expect(maxInFlight).toBe(3);
    const ranges = log.inputsOf('processRequestRange').map(({ fromLine, toLine }) => [fromLine, toLine]);
    expect(ranges.sort((a, b) => a[0]! - b[0]!)).toEqual(Array.from({ length: 10 }, (_, i) => [i * 5, Math.min(i * 5 + 5, 48)]));
    // Every chunk has finished writing before the files are.
    expect(finishedWhenFinalized).toBe(10);
  });

  it('on the cancel signal: stops the running chunks, dispatches no more, finalizes as cancelled', async () => {
    const batchId = newBatchId();
    const chunksRunning = deferred();
    let cancelledChunks = 0;
    const { activities, log } = batchActivities(planOf({ tuning: { chunkSize: 5, chunkConcurrency: 2 } }), 100, {
      processRequestRange: async () => {
        if (log.of('processRequestRange').length === 2) chunksRunning.resolve();
        try {
          return await untilCancelled();
        } finally {
          cancelledChunks += 1;
        }
      },
    });
    await withWorker(env, activities, async (taskQueue) => {
      const handle = await startBatch(taskQueue, batchId);
      await chunksRunning.promise;
      await handle.signal(cancelBatchSignal);
      expect(await handle.result()).toBe('cancelled');
      expect(await delivery(batchId, 'cancelled')).toMatchObject({ status: 'delivered' });
    });
    expect(log.inputsOf('processRequestRange').map(({ fromLine }) => fromLine).sort((a, b) => a - b)).toEqual([0, 5]);
    expect(cancelledChunks).toBe(2);
    expect(log.inputsOf('finalizeBatch')).toEqual([{ batchId, status: 'cancelled' }]);
    expect(log.inputsOf('recordLifecycleEvent')).toEqual([{ batchId, event: 'cancelled', seq: 1, batchWebhook: true }]);
    expect(log.of('failBatch')).toEqual([]);
  });

  it('expires when the 24 h completion window closes before the chunks finish', async () => {
    const batchId = newBatchId();
    // An outage longer than the window: the chunk's next attempt would come after the deadline.
    // (The test server skips time only while no activity runs, so the stub fails rather than hangs.)
    const { activities, log } = batchActivities(planOf(), 10, {
      processRequestRange: async () => {
        throw ApplicationFailure.create({ type: 'UpstreamDown', message: 'upstream unreachable', nextRetryDelay: '48h' });
      },
    });
    let startedAtMs = 0;
    await withWorker(env, activities, async (taskQueue) => {
      const handle = await startBatch(taskQueue, batchId);
      startedAtMs = (await handle.describe()).startTime.getTime();
      expect(await handle.result()).toBe('expired');
      expect(await delivery(batchId, 'expired')).toMatchObject({ status: 'delivered' });
    });
    expect(log.inputsOf('processRequestRange').map(({ fromLine }) => fromLine).sort((a, b) => a - b)).toEqual([0, 5]);
    expect(log.inputsOf('finalizeBatch')).toEqual([{ batchId, status: 'expired' }]);
    const [finalize] = log.of('finalizeBatch');
    expect(finalize!.atMs - startedAtMs).toBeGreaterThanOrEqual(24 * HOUR_MS);
    expect(finalize!.atMs - startedAtMs).toBeLessThan(25 * HOUR_MS);
    expect(log.inputsOf('recordLifecycleEvent')).toEqual([{ batchId, event: 'expired', seq: 1, batchWebhook: true }]);
  });

  it('continues as new when its history grows long, without redoing or skipping chunks', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities(planOf({ tuning: { chunkSize: 1, chunkConcurrency: 2, continueAsNewEvents: 40 } }), 30);
    let firstRunId = '';
    let lastRunId = '';
    await withWorker(env, activities, async (taskQueue) => {
      const handle = await startBatch(taskQueue, batchId);
      firstRunId = handle.firstExecutionRunId;
      expect(await handle.result()).toBe('completed');
      lastRunId = (await handle.describe()).runId;
      expect(await delivery(batchId, 'completed')).toMatchObject({ status: 'delivered' });
    });
    expect(lastRunId).not.toBe(firstRunId);
    // The plan is loaded and the input validated once; later runs resume where the last one stopped.
    expect(log.of('loadBatchPlan')).toHaveLength(1);
    expect(log.of('validateBatchInput')).toHaveLength(1);
    const fromLines = log.inputsOf('processRequestRange').map(({ fromLine }) => fromLine);
    expect(fromLines.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(log.inputsOf('finalizeBatch')).toEqual([{ batchId, status: 'completed' }]);
    expect(log.inputsOf('recordLifecycleEvent')).toEqual([{ batchId, event: 'completed', seq: 1, batchWebhook: true }]);
  });

  it('fails on a data error: the chunk is not retried, the error is recorded, nothing finalized', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities(planOf({ tuning: { chunkSize: 5, chunkConcurrency: 1 } }), 10, {
      processRequestRange: async () => {
        throw ApplicationFailure.create({ type: BATCH_DATA_ERROR, message: 'invalid byte sequence', nonRetryable: true });
      },
    });
    await withWorker(env, activities, async (taskQueue) => {
      expect(await runBatch(taskQueue, batchId)).toBe('failed');
      expect(await delivery(batchId, 'failed')).toMatchObject({ status: 'delivered' });
    });
    expect(log.of('processRequestRange')).toHaveLength(1);
    expect(log.inputsOf('failBatch')).toEqual([
      {
        batchId,
        error: { code: 'invalid_data', message: expect.stringContaining('invalid byte sequence'), param: null, line: null },
      },
    ]);
    expect(log.of('finalizeBatch')).toEqual([]);
    expect(log.inputsOf('recordLifecycleEvent')).toEqual([{ batchId, event: 'failed', seq: 1, batchWebhook: true }]);
  });

  it('is abandoned when its batch row never appears: it waits a minute and calls nothing else', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities(null, 0);
    let startedAtMs = 0;
    let closedAtMs = 0;
    await withWorker(env, activities, async (taskQueue) => {
      const handle = await startBatch(taskQueue, batchId);
      expect(await handle.result()).toBe('abandoned');
      const description = await handle.describe();
      startedAtMs = description.startTime.getTime();
      closedAtMs = description.closeTime!.getTime();
    });
    expect(new Set(log.names())).toEqual(new Set(['loadBatchPlan']));
    expect(log.of('loadBatchPlan').length).toBeGreaterThan(1);
    expect(closedAtMs - startedAtMs).toBeGreaterThanOrEqual(60_000);
  });
});
