import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchOutcome, BatchPlan } from '../../src/workflows/contracts.js';
import { BATCH_DATA_ERROR, cancelBatchSignal } from '../../src/workflows/contracts.js';
import { batchWorkflowId } from '../../src/workflows/workflow-ids.js';
import { createLocalEnv, SEARCH_ATTRIBUTES } from '../support/temporal.js';
import { stubActivities, withWorker, type Activities } from './stub-worker.js';

/**
 * A batch whose file is validated whole but whose requests past the first
 * window of chunks are stored while those chunks run (storeRemainingRequests):
 * no chunk starts before its lines are stored, and neither finalization nor
 * a failure is recorded while storing is still under way.
 */
let env: TestWorkflowEnvironment;
// The dev server, not the time-skipping one: there, an activity cancelled while it completes
// (the first window's chunks when storing fails) can leave the workflow waiting for good.
beforeEach(async () => {
  env = await createLocalEnv({ searchAttributes: SEARCH_ATTRIBUTES });
});
afterEach(async () => {
  await env?.teardown();
});

let batchCount = 0;
const newBatchId = () => `batch_store${Date.now().toString(36)}${++batchCount}`;
const TOTAL = 30;
// chunkSize 5 × chunkConcurrency 2: validation stores the first 10 lines.
const PLAN: BatchPlan = {
  endpoint: '/v1/chat/completions',
  completionWindowMs: 24 * 60 * 60 * 1000,
  webhook: null,
  webhookRetry: { initialSeconds: 1, backoff: 2, maxIntervalSeconds: 60 },
  tuning: { chunkSize: 5, chunkConcurrency: 2, progressIntervalSeconds: 3600, continueAsNewEvents: 10_000 },
};

/** A promise the test settles by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Polls the stubs' log until `check` holds; the stubs run in this process. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function batchActivities(overrides: Partial<Activities>) {
  return stubActivities({
    loadBatchPlan: async () => PLAN,
    validateBatchInput: async ({ storeFirst }) => ({ ok: true, total: TOTAL, stored: Math.min(TOTAL, storeFirst ?? TOTAL) }),
    processRequestRange: async ({ fromLine, toLine }) => ({ saved: toLine - fromLine }),
    finalizeBatch: async () => ({ completed: TOTAL, failed: 0 }),
    failBatch: async () => undefined,
    recordLifecycleEvent: async () => null,
    ...overrides,
  });
}

async function startBatch(taskQueue: string, batchId: string) {
  return env.client.workflow.start('batchWorkflow', { taskQueue, workflowId: batchWorkflowId(batchId), args: [{ batchId }] });
}

describe('requests stored while the first chunks run', () => {
  it('asks validation to store the first window only, and starts no chunk past the stored lines until the rest is stored', async () => {
    const batchId = newBatchId();
    const stored = gate();
    const { activities, log } = batchActivities({
      storeRemainingRequests: async ({ fromLine }) => {
        await stored.opened;
        return { stored: TOTAL - fromLine };
      },
    });
    const outcome = await withWorker(env, activities, async (taskQueue) => {
      const handle = await startBatch(taskQueue, batchId);
      // The first window runs to the end while the rest is still being stored.
      await until(() => log.of('processRequestRange').length === 2 && log.of('storeRemainingRequests').length === 1, 'first window dispatched');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(log.inputsOf('processRequestRange').map((r) => [r.fromLine, r.toLine])).toEqual([
        [0, 5],
        [5, 10],
      ]);
      stored.open();
      return (await handle.result()) as BatchOutcome;
    });
    expect(outcome).toBe('completed');
    expect(log.inputsOf('validateBatchInput')).toEqual([{ batchId, storeFirst: 10 }]);
    expect(log.inputsOf('storeRemainingRequests')).toEqual([{ batchId, fromLine: 10 }]);
    expect(log.inputsOf('processRequestRange').map((r) => r.fromLine)).toEqual([0, 5, 10, 15, 20, 25]);
    const order = log.names().filter((n) => n === 'storeRemainingRequests' || n === 'finalizeBatch');
    expect(order).toEqual(['storeRemainingRequests', 'finalizeBatch']);
  });

  it('a batch cancelled while its requests are being stored is finalized only once they all are', async () => {
    const batchId = newBatchId();
    const stored = gate();
    let storeEnded = false;
    let finalizedBeforeStored = false;
    const { activities, log } = batchActivities({
      storeRemainingRequests: async ({ fromLine }) => {
        await stored.opened;
        storeEnded = true;
        return { stored: TOTAL - fromLine };
      },
      finalizeBatch: async ({ status }) => {
        // Finalization settles every row: all of them must exist by now.
        if (!storeEnded) finalizedBeforeStored = true;
        return status === 'cancelled' ? { completed: 10, failed: 20 } : { completed: TOTAL, failed: 0 };
      },
    });
    const outcome = await withWorker(env, activities, async (taskQueue) => {
      const handle = await startBatch(taskQueue, batchId);
      await until(() => log.of('processRequestRange').length === 2 && log.of('storeRemainingRequests').length === 1, 'first window dispatched');
      await handle.signal(cancelBatchSignal);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(log.of('finalizeBatch')).toHaveLength(0);
      stored.open();
      return (await handle.result()) as BatchOutcome;
    });
    expect(outcome).toBe('cancelled');
    expect(finalizedBeforeStored).toBe(false);
    expect(log.inputsOf('finalizeBatch')).toEqual([{ batchId, status: 'cancelled' }]);
    expect(log.inputsOf('processRequestRange').every((r) => r.toLine <= 10)).toBe(true);
  });

  it('fails the batch, without finalizing it, when the rest of its requests cannot be stored', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities({
      storeRemainingRequests: async () => {
        throw ApplicationFailure.create({ type: BATCH_DATA_ERROR, message: 'the input file was deleted', nonRetryable: true });
      },
    });
    const outcome = await withWorker(env, activities, async (taskQueue) => (await startBatch(taskQueue, batchId)).result());
    expect(outcome).toBe('failed');
    expect(log.of('finalizeBatch')).toHaveLength(0);
    expect(log.inputsOf('failBatch')).toEqual([
      { batchId, error: { code: 'invalid_data', message: expect.stringContaining('the input file was deleted'), param: null, line: null } },
    ]);
    expect(log.inputsOf('processRequestRange').every((r) => r.toLine <= 10)).toBe(true);
  });

  it('a small batch is stored whole by validation: nothing is left to store', async () => {
    const batchId = newBatchId();
    const { activities, log } = batchActivities({
      validateBatchInput: async () => ({ ok: true, total: 8, stored: 8 }),
      finalizeBatch: async () => ({ completed: 8, failed: 0 }),
    });
    const outcome = await withWorker(env, activities, async (taskQueue) => (await startBatch(taskQueue, batchId)).result());
    expect(outcome).toBe('completed');
    expect(log.of('storeRemainingRequests')).toHaveLength(0);
    expect(log.inputsOf('processRequestRange').map((r) => [r.fromLine, r.toLine])).toEqual([
      [0, 5],
      [5, 8],
    ]);
  });
});
