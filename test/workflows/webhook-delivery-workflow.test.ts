import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WEBHOOK_NOT_SENT,
  type WebhookDeliveryInput,
  type WebhookDeliveryResult,
  type WebhookSendOutcome,
} from '../../src/workflows/contracts.js';
import { webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { createTestEnv } from '../support/temporal.js';
import { stubActivities, withWorker, type Activities, type ActivityLog } from './stub-worker.js';

/**
 * The delivery workflow's decisions with stub activities: it counts HTTP
 * attempts, waits out backoff and Retry-After on the workflow clock, spends no
 * attempt on a send that never went out, and dead-letters only when attempts
 * run out. test/webhook-delivery.test.ts shows the same through a real receiver.
 */
let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.teardown();
});

let deliveryCount = 0;

function inputOf(overrides: Partial<WebhookDeliveryInput> = {}): WebhookDeliveryInput {
  deliveryCount += 1;
  return {
    batchId: `batch_delivery${deliveryCount}`,
    eventId: `evt_${deliveryCount}`,
    event: 'completed',
    maxAttempts: 5,
    timeoutSeconds: 10,
    retry: { initialSeconds: 10, backoff: 2, maxIntervalSeconds: 300 },
    ...overrides,
  };
}

const delivered = (statusCode = 200): WebhookSendOutcome => ({ kind: 'delivered', statusCode, responseBody: 'ok', attemptedAt: Date.now(), durationMs: 3 });
const failed = (statusCode: number, retryAfterSeconds?: number): WebhookSendOutcome => ({
  kind: 'failed',
  error: `HTTP ${statusCode}`,
  statusCode,
  responseBody: 'no',
  attemptedAt: Date.now(),
  durationMs: 3,
  ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
});

/** A receiver answering attempt n (1-based, counting sends that went out) with `answers[n - 1]`. */
function deliveryActivities(answers: (() => WebhookSendOutcome)[], overrides: Partial<Activities> = {}) {
  let sends = 0;
  return stubActivities({
    prepareWebhookAttempt: async () => ({ alreadyStarted: false, outcome: null }),
    sendWebhook: async () => {
      const answer = answers[sends++];
      if (!answer) throw new Error(`no answer for send ${sends}`);
      return answer();
    },
    recordWebhookAttemptOutcome: async () => ({ disabledEndpoint: null }),
    recordDeadLetter: async () => ({ deadLetterId: 42, attempts: sends }),
    recordDeadLetterRetrySuccess: async () => undefined,
    ...overrides,
  });
}

async function deliver(activities: Activities, input: WebhookDeliveryInput) {
  const workflowId = webhookDeliveryWorkflowId(input.batchId, input.event, 1);
  return withWorker(env, activities, async (taskQueue) => {
    const handle = await env.client.workflow.start('webhookDeliveryWorkflow', { taskQueue, workflowId, args: [input] });
    const result: WebhookDeliveryResult = await handle.result();
    return { workflowId, result };
  });
}

/** Workflow-clock seconds between consecutive sends. */
function gapsBetweenSends(log: ActivityLog): number[] {
  const times = log.of('sendWebhook').map((call) => call.atMs);
  return times.slice(1).map((t, i) => (t - times[i]!) / 1000);
}

/** Each gap is at least the expected wait and not much more (the stubs themselves take real milliseconds). */
function expectGaps(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((gap, i) => {
    expect(gap).toBeGreaterThanOrEqual(expected[i]!);
    expect(gap).toBeLessThan(expected[i]! + 2);
  });
}

describe('webhook delivery workflow', () => {
  it('delivers on the first attempt: logs it, sends it, records the outcome, nothing else', async () => {
    const input = inputOf();
    const { activities, log } = deliveryActivities([() => delivered(204)]);
    const { workflowId, result } = await deliver(activities, input);
    expect(result).toEqual({ status: 'delivered', attempts: 1, statusCode: 204 });
    const ids = { eventId: input.eventId, deliveryId: workflowId };
    expect(log.names()).toEqual(['prepareWebhookAttempt', 'sendWebhook', 'recordWebhookAttemptOutcome']);
    expect(log.inputsOf('prepareWebhookAttempt')).toEqual([{ ...ids, attempt: 1 }]);
    expect(log.inputsOf('sendWebhook')).toEqual([{ ...ids, attempt: 1, timeoutSeconds: 10 }]);
    expect(log.inputsOf('recordWebhookAttemptOutcome')).toEqual([
      { deliveryId: workflowId, attempt: 1, outcome: expect.objectContaining({ kind: 'delivered', statusCode: 204 }) },
    ]);
  });

  it('counts attempts itself and backs off exponentially between them', async () => {
    const input = inputOf({ retry: { initialSeconds: 10, backoff: 2, maxIntervalSeconds: 300 } });
    const { activities, log } = deliveryActivities([() => failed(500), () => failed(502), () => failed(500), () => delivered()]);
    const { result } = await deliver(activities, input);
    expect(result).toEqual({ status: 'delivered', attempts: 4, statusCode: 200 });
    expect(log.inputsOf('sendWebhook').map((i) => i.attempt)).toEqual([1, 2, 3, 4]);
    expect(log.inputsOf('recordWebhookAttemptOutcome').map((i) => [i.attempt, i.outcome.kind])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
      [4, 'delivered'],
    ]);
    expectGaps(gapsBetweenSends(log), [10, 20, 40]);
  });

  it('caps the backoff at the maximum interval', async () => {
    const input = inputOf({ retry: { initialSeconds: 10, backoff: 10, maxIntervalSeconds: 60 } });
    const { activities, log } = deliveryActivities([() => failed(500), () => failed(500), () => delivered()]);
    expect((await deliver(activities, input)).result).toMatchObject({ status: 'delivered', attempts: 3 });
    expectGaps(gapsBetweenSends(log), [10, 60]);
  });

  it("honours the receiver's Retry-After instead of the backoff, within the maximum interval", async () => {
    const input = inputOf({ retry: { initialSeconds: 1, backoff: 2, maxIntervalSeconds: 600 } });
    const { activities, log } = deliveryActivities([() => failed(429, 120), () => failed(503, 3600), () => delivered()]);
    expect((await deliver(activities, input)).result).toMatchObject({ status: 'delivered', attempts: 3 });
    expectGaps(gapsBetweenSends(log), [120, 600]);
  });

  it('spends no attempt on a send that failed before its request went out (WebhookNotSent)', async () => {
    const input = inputOf({ maxAttempts: 1 });
    let sends = 0;
    const { activities, log } = deliveryActivities([], {
      sendWebhook: async () => {
        sends += 1;
        if (sends <= 2) throw ApplicationFailure.create({ type: WEBHOOK_NOT_SENT, message: 'not sent: connection refused' });
        return delivered();
      },
    });
    const { result } = await deliver(activities, input);
    // One attempt allowed, and it is still there after two sends that never went out.
    expect(result).toEqual({ status: 'delivered', attempts: 1, statusCode: 200 });
    expect(log.inputsOf('prepareWebhookAttempt').map((i) => i.attempt)).toEqual([1, 1, 1]);
    expect(log.inputsOf('sendWebhook').map((i) => i.attempt)).toEqual([1, 1, 1]);
    expect(log.inputsOf('recordWebhookAttemptOutcome')).toEqual([expect.objectContaining({ attempt: 1 })]);
    expect(log.of('recordDeadLetter')).toEqual([]);
    // Each send that went nowhere is retried after a short pause, doubling: 1 s, then 2 s.
    expectGaps(gapsBetweenSends(log), [1, 2]);
  });

  it('counts an attempt whose worker stopped mid-request as interrupted', async () => {
    const input = inputOf({ maxAttempts: 2 });
    let sends = 0;
    const { activities, log } = deliveryActivities([], {
      sendWebhook: async () => {
        sends += 1;
        if (sends === 1) throw ApplicationFailure.create({ type: 'Cancelled', message: 'the worker stopped mid-request', nonRetryable: true });
        return delivered();
      },
    });
    expect((await deliver(activities, input)).result).toEqual({ status: 'delivered', attempts: 2, statusCode: 200 });
    expect(log.inputsOf('recordWebhookAttemptOutcome').map((i) => [i.attempt, i.outcome.kind])).toEqual([
      [1, 'interrupted'],
      [2, 'delivered'],
    ]);
  });

  it('never sends an attempt twice: one an earlier run already logged (its worker died mid-request) counts as interrupted', async () => {
    const input = inputOf({ maxAttempts: 2 });
    const { activities, log } = deliveryActivities([() => delivered()], {
      prepareWebhookAttempt: async ({ attempt }) => ({ alreadyStarted: attempt === 1, outcome: null }),
    });
    expect((await deliver(activities, input)).result).toEqual({ status: 'delivered', attempts: 2, statusCode: 200 });
    expect(log.inputsOf('sendWebhook').map((i) => i.attempt)).toEqual([2]);
    expect(log.inputsOf('recordWebhookAttemptOutcome').map((i) => [i.attempt, i.outcome.kind])).toEqual([
      [1, 'interrupted'],
      [2, 'delivered'],
    ]);
  });

  it('never sends an attempt twice: one an earlier run finished (its result was lost) goes on from the recorded outcome', async () => {
    const input = inputOf({ maxAttempts: 2 });
    const { activities, log } = deliveryActivities([], {
      prepareWebhookAttempt: async () => ({ alreadyStarted: true, outcome: delivered(202) }),
    });
    expect((await deliver(activities, input)).result).toEqual({ status: 'delivered', attempts: 1, statusCode: 202 });
    expect(log.of('sendWebhook')).toEqual([]);
    expect(log.inputsOf('recordWebhookAttemptOutcome').map((i) => [i.attempt, i.outcome.kind])).toEqual([[1, 'delivered']]);
  });

  it('dead-letters the event when the attempts run out', async () => {
    const input = inputOf({ maxAttempts: 3 });
    const { activities, log } = deliveryActivities([() => failed(500), () => failed(500), () => failed(500)]);
    const { workflowId, result } = await deliver(activities, input);
    expect(result).toEqual({ status: 'dead_lettered', deadLetterId: 42, attempts: 3 });
    expect(log.inputsOf('sendWebhook').map((i) => i.attempt)).toEqual([1, 2, 3]);
    expect(log.inputsOf('recordDeadLetter')).toEqual([{ eventId: input.eventId, deliveryId: workflowId, deadLetterId: undefined }]);
    // No wait after the last attempt: dead-lettered right after it is recorded.
    expect(log.names().slice(-2)).toEqual(['recordWebhookAttemptOutcome', 'recordDeadLetter']);
    expect(log.of('recordDeadLetter')[0]!.atMs - log.of('sendWebhook')[2]!.atMs).toBeLessThan(2_000);
  });

  it('dead-letters at once when the URL is forbidden: no further attempts', async () => {
    const input = inputOf({ maxAttempts: 5 });
    const forbidden: WebhookSendOutcome = { kind: 'forbidden', error: 'refused: private address', statusCode: null, responseBody: null, attemptedAt: Date.now(), durationMs: 0 };
    const { activities, log } = deliveryActivities([() => forbidden]);
    expect((await deliver(activities, input)).result).toEqual({ status: 'dead_lettered', deadLetterId: 42, attempts: 1 });
    expect(log.of('sendWebhook')).toHaveLength(1);
  });

  it('dead-letters without sending when the event is gone for good', async () => {
    const input = inputOf();
    const { activities, log } = deliveryActivities([], {
      prepareWebhookAttempt: async () => {
        throw ApplicationFailure.create({ type: 'WebhookEventNotFound', message: 'event not found', nonRetryable: true });
      },
      recordDeadLetter: async () => ({ deadLetterId: 7, attempts: 0 }),
    });
    expect((await deliver(activities, input)).result).toEqual({ status: 'dead_lettered', deadLetterId: 7, attempts: 0 });
    expect(log.names()).toEqual(['prepareWebhookAttempt', 'recordDeadLetter']);
  });

  describe('never dead-letters a delivered event', () => {
    it('delivered on the last allowed attempt', async () => {
      const input = inputOf({ maxAttempts: 2 });
      const { activities, log } = deliveryActivities([() => failed(500), () => delivered()]);
      expect((await deliver(activities, input)).result).toEqual({ status: 'delivered', attempts: 2, statusCode: 200 });
      expect(log.of('recordDeadLetter')).toEqual([]);
    });

    it('delivered, then recording the outcome fails for a while: retried until it is recorded', async () => {
      const input = inputOf({ maxAttempts: 1 });
      let recordings = 0;
      const { activities, log } = deliveryActivities([() => delivered()], {
        recordWebhookAttemptOutcome: async () => {
          recordings += 1;
          if (recordings <= 3) throw new Error('connection terminated unexpectedly');
          return { disabledEndpoint: null };
        },
      });
      expect((await deliver(activities, input)).result).toEqual({ status: 'delivered', attempts: 1, statusCode: 200 });
      expect(log.of('sendWebhook')).toHaveLength(1);
      // The first recording is part of the attempt's task; the rest are the recording activity's retries.
    expect(log.of('recordWebhookAttemptOutcome').map((call) => [call.within, call.attempt])).toEqual([
      ['attemptWebhook', 1],
      ['recordWebhookAttemptOutcome', 1],
      ['recordWebhookAttemptOutcome', 2],
      ['recordWebhookAttemptOutcome', 3],
    ]);
      expect(log.of('recordDeadLetter')).toEqual([]);
    });

    it('a manual retry of a dead-letter entry that is delivered marks the entry succeeded', async () => {
      const input = inputOf({ deadLetterId: 9 });
      const { activities, log } = deliveryActivities([() => failed(500), () => delivered()]);
      const { workflowId, result } = await deliver(activities, input);
      expect(result).toEqual({ status: 'delivered', attempts: 2, statusCode: 200 });
      expect(log.inputsOf('recordDeadLetterRetrySuccess')).toEqual([{ deadLetterId: 9, deliveryId: workflowId }]);
      expect(log.of('recordDeadLetter')).toEqual([]);
    });
  });

  it('a manual retry that fails again updates its dead-letter entry', async () => {
    const input = inputOf({ maxAttempts: 2, deadLetterId: 9 });
    const { activities, log } = deliveryActivities([() => failed(500), () => failed(500)], {
      recordDeadLetter: async ({ deadLetterId }) => ({ deadLetterId: deadLetterId!, attempts: 2 }),
    });
    const { workflowId, result } = await deliver(activities, input);
    expect(result).toEqual({ status: 'dead_lettered', deadLetterId: 9, attempts: 2 });
    expect(log.inputsOf('recordDeadLetter')).toEqual([{ eventId: input.eventId, deliveryId: workflowId, deadLetterId: 9 }]);
    expect(log.of('recordDeadLetterRetrySuccess')).toEqual([]);
  });
});
