import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterBulkRetryInput, WebhookDeliveryInput, WebhookDeliveryResult } from '../../src/workflows/contracts.js';
import { ensureSearchAttributes } from '../../src/worker/ensure-search-attributes.js';
import { webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { createTestEnv } from '../support/temporal.js';
import { stubActivities, withWorker } from './stub-worker.js';

/**
 * The bulk retry workflow starts one delivery per dead-letter entry at a
 * bounded rate and skips an entry whose delivery is already running.
 * test/dead-letter-api.test.ts shows the same through the API.
 */
let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTestEnv();
  // Deliveries are started with these search attributes.
  await ensureSearchAttributes(env.nativeConnection, 'default');
});
afterAll(async () => {
  await env?.teardown();
});

function retryOf(batchId: string, deadLetterId: number): DeadLetterBulkRetryInput['deliveries'][number] {
  const input: WebhookDeliveryInput = {
    batchId,
    eventId: `evt_${batchId}`,
    event: 'completed',
    maxAttempts: 3,
    timeoutSeconds: 10,
    retry: { initialSeconds: 1, backoff: 2, maxIntervalSeconds: 60 },
    deadLetterId,
  };
  return { workflowId: `${webhookDeliveryWorkflowId(batchId, 'completed', 1)}/retry-1`, webhookUrl: 'https://hooks.example/batches', input };
}

describe('dead-letter bulk retry workflow', () => {
  it('starts one delivery per entry, paced at perSecond, skipping one already under way', async () => {
    const deliveries = [retryOf('batch_bulk1', 1), retryOf('batch_bulk2', 2), retryOf('batch_bulk3', 3)];
    const { activities, log } = stubActivities({
      prepareWebhookAttempt: async () => ({ alreadyStarted: false, outcome: null }),
      sendWebhook: async () => ({ kind: 'delivered', statusCode: 200, responseBody: 'ok', attemptedAt: Date.now(), durationMs: 1 }),
      recordWebhookAttemptOutcome: async () => ({ disabledEndpoint: null }),
      recordDeadLetterRetrySuccess: async () => undefined,
    });
    // The second entry's delivery is already running (on a queue no worker polls): the bulk retry leaves it be.
    const underWay = await env.client.workflow.start('webhookDeliveryWorkflow', {
      taskQueue: 'nobody-polls-this-queue',
      workflowId: deliveries[1]!.workflowId,
      args: [deliveries[1]!.input],
    });
    try {
      await withWorker(env, activities, async (taskQueue) => {
        const bulk = await env.client.workflow.start('deadLetterBulkRetryWorkflow', {
          taskQueue,
          workflowId: `dead-letter-retry/test/${Date.now()}`,
          args: [{ deliveries, perSecond: 2 }],
        });
        expect(await bulk.result()).toEqual({ started: 2 });
        for (const { workflowId } of [deliveries[0]!, deliveries[2]!]) {
          const result: WebhookDeliveryResult = await env.client.workflow.getHandle(workflowId).result();
          expect(result).toEqual({ status: 'delivered', attempts: 1, statusCode: 200 });
        }
        // Started in order, at most two a second: 500 ms apart on the workflow clock (two gaps: the skipped entry's slot counts).
        const [first, third] = await Promise.all([deliveries[0]!, deliveries[2]!].map(async ({ workflowId }) => (await env.client.workflow.getHandle(workflowId).describe()).startTime.getTime()));
        expect(third! - first!).toBeGreaterThanOrEqual(1_000);
        expect((await underWay.describe()).status.name).toBe('RUNNING');
      });
    } finally {
      await underWay.terminate('test over');
    }
    expect(log.inputsOf('recordDeadLetterRetrySuccess').map((i) => i.deadLetterId).sort()).toEqual([1, 3]);
    expect(log.inputsOf('sendWebhook').map((i) => i.deliveryId).sort()).toEqual([deliveries[0]!.workflowId, deliveries[2]!.workflowId]);
  });

  it('starts nothing for an empty list', async () => {
    const { activities, log } = stubActivities({});
    await withWorker(env, activities, async (taskQueue) => {
      const bulk = await env.client.workflow.start('deadLetterBulkRetryWorkflow', {
        taskQueue,
        workflowId: `dead-letter-retry/test-empty/${Date.now()}`,
        args: [{ deliveries: [], perSecond: 2 }],
      });
      expect(await bulk.result()).toEqual({ started: 0 });
    });
    expect(log.calls).toEqual([]);
  });
});
