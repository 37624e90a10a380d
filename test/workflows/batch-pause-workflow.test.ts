import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchOutcome, BatchPlan } from '../../src/workflows/contracts.js';
import { ensureSearchAttributes } from '../../src/worker/ensure-search-attributes.js';
import { FIRST_PROBE_DELAY_MS, MAX_PROBE_DELAY_MS } from '../../src/workflows/wait-for-upstream.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { createTestEnv } from '../support/temporal.js';
import { stubActivities, withWorker, type Activities } from './stub-worker.js';

/**
 * The pause/probe/resume loop of the batch workflow on the time-skipping
 * server, with stub activities: a chunk that reports the upstream down, the
 * probes that follow (their spacing on the workflow clock), and how the batch
 * goes on, or expires while it waits.
 */
let env: TestWorkflowEnvironment;
// One server per test: lifecycle deliveries are abandoned children (see batch-workflow.test.ts).
beforeEach(async () => {
  env = await createTestEnv();
  await ensureSearchAttributes(env.nativeConnection, 'default');
});
afterEach(async () => {
  await env?.teardown();
});

const HOUR_MS = 60 * 60 * 1000;
let batchCount = 0;
const newBatchId = () => `batch_pause${Date.now().toString(36)}${++batchCount}`;

function planOf(completionWindowMs = 24 * HOUR_MS, chunkConcurrency = 2): BatchPlan {
  return {
    endpoint: '/v1/chat/completions',
    completionWindowMs,
    webhook: { url: 'https://hooks.example/batches', events: ['paused', 'resumed', 'completed', 'expired'], maxAttempts: 3, timeoutSeconds: 10 },
    webhookRetry: { initialSeconds: 1, backoff: 2, maxIntervalSeconds: 60 },
    tuning: { chunkSize: 5, chunkConcurrency, progressIntervalSeconds: 3600, continueAsNewEvents: 10_000 },
  };
}

function batchActivities(plan: BatchPlan, total: number, overrides: Partial<Activities>) {
  return stubActivities({
    loadBatchPlan: async () => plan,
    validateBatchInput: async () => ({ ok: true, total }),
    finalizeBatch: async () => ({ completed: total, failed: 0 }),
    recordLifecycleEvent: async ({ event, seq, batchWebhook }) => (batchWebhook ? { eventId: `evt_${event}_${seq}`, endpoints: [] } : null),
    prepareWebhookAttempt: async () => ({ alreadyStarted: false, outcome: null }),
    sendWebhook: async () => ({ kind: 'delivered', statusCode: 200, responseBody: 'ok', attemptedAt: Date.now(), durationMs: 1 }),
    recordWebhookAttemptOutcome: async () => ({ disabledEndpoint: null }),
    pauseBatch: async () => undefined,
    resumeBatch: async () => undefined,
    ...overrides,
  });
}

const STEPS = new Set(['processRequestRange', 'pauseBatch', 'probeUpstream', 'resumeBatch', 'finalizeBatch', 'recordLifecycleEvent']);

async function runBatch(taskQueue: string, batchId: string): Promise<BatchOutcome> {
  const handle = await env.client.workflow.start('batchWorkflow', { taskQueue, workflowId: batchWorkflowId(batchId), args: [{ batchId }] });
  return handle.result();
}

const delivered = (batchId: string, event: string) => env.client.workflow.getHandle(webhookDeliveryWorkflowId(batchId, event, 1)).result();

describe('a batch whose upstream is down', () => {
  it('pauses once no chunk runs, probes with backoff until the upstream answers, then runs the stopped range again', async () => {
    const batchId = newBatchId();
    let firstOfSecondChunk = true;
    let probes = 0;
    // One chunk at a time, so the order of calls is fixed.
    const { activities, log } = batchActivities(planOf(24 * HOUR_MS, 1), 15, {
      processRequestRange: async ({ fromLine, toLine }) => {
        if (fromLine === 5 && firstOfSecondChunk) {
          firstOfSecondChunk = false;
          return { saved: 2, paused: 'The upstream does not answer.' };
        }
        return { saved: toLine - fromLine };
      },
      probeUpstream: async () => ({ up: ++probes >= 3, detail: probes >= 3 ? 'answered 200' : 'ECONNREFUSED' }),
    });
    await withWorker(env, activities, async (taskQueue) => {
      expect(await runBatch(taskQueue, batchId)).toBe('completed');
      for (const event of ['paused', 'resumed', 'completed']) expect(await delivered(batchId, event)).toMatchObject({ status: 'delivered' });
    });

    const steps = log.calls.filter((call) => STEPS.has(call.name));
    const names = steps.map((call) => (call.name === 'recordLifecycleEvent' ? `emit:${(call.input as { event: string }).event}` : call.name));
    expect(names).toEqual([
      'processRequestRange',
      'processRequestRange',
      'pauseBatch',
      'emit:paused',
      'probeUpstream',
      'probeUpstream',
      'probeUpstream',
      'resumeBatch',
      'emit:resumed',
      'processRequestRange',
      'processRequestRange',
      'finalizeBatch',
      'emit:completed',
    ]);
    // The stopped range [5, 10) runs again, then the rest; every range is sent pausable.
    expect(log.inputsOf('processRequestRange').map(({ fromLine, toLine, pauseWhenDown }) => [fromLine, toLine, pauseWhenDown])).toEqual([
      [0, 5, true],
      [5, 10, true],
      [5, 10, true],
      [10, 15, true],
    ]);
    expect(log.inputsOf('pauseBatch')).toEqual([{ batchId, reason: 'The upstream does not answer.' }]);
    // Probes back off on the workflow clock: 1 s, then 2 s, then 4 s apart.
    const probeTimes = log.of('probeUpstream').map((call) => call.atMs);
    const pausedAt = log.of('pauseBatch')[0]!.atMs;
    const gaps = probeTimes.map((t, i) => t - (i === 0 ? pausedAt : probeTimes[i - 1]!));
    expect(gaps.map((g) => Math.round(g / 1000))).toEqual([1, 2, 4].map((n) => (n * FIRST_PROBE_DELAY_MS) / 1000));
  });

  it('expires while it waits: the window holds, the batch is finalized as expired and never resumed', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities(planOf(HOUR_MS), 10, {
      processRequestRange: async ({ fromLine }) => ({ saved: 0, paused: `down at ${fromLine}` }),
      probeUpstream: async () => ({ up: false, detail: 'ECONNREFUSED' }),
    });
    await withWorker(env, activities, async (taskQueue) => {
      expect(await runBatch(taskQueue, batchId)).toBe('expired');
      expect(await delivered(batchId, 'paused')).toMatchObject({ status: 'delivered' });
      expect(await delivered(batchId, 'expired')).toMatchObject({ status: 'delivered' });
    });
    expect(log.inputsOf('finalizeBatch')).toEqual([{ batchId, status: 'expired' }]);
    expect(log.of('resumeBatch')).toHaveLength(0);
    // Both chunks stopped; the reason is the first to report's, and the batch paused once.
    expect(log.inputsOf('pauseBatch')).toEqual([{ batchId, reason: expect.stringMatching(/^down at (0|5)$/) }]);
    // Probes never come further apart than the maximum, and none after the deadline.
    const probeTimes = log.of('probeUpstream').map((call) => call.atMs);
    const gaps = probeTimes.slice(1).map((t, i) => t - probeTimes[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(MAX_PROBE_DELAY_MS + 1_000);
    expect(probeTimes.length).toBeGreaterThan(25);
  });
});
