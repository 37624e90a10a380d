import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { bodyOf, getDeadLetter, listDeadLetters, listDeliveryAttempts, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

// The worker reaches Postgres through a proxy the tests can cut; the API and the
// assertions use the database directly, so "Postgres is down" for the worker only.
let proxy: TcpProxy;
let h: Harness;
beforeAll(async () => {
  proxy = await startTcpProxy(inject('databaseUrl'));
  h = await startHarness({}, { workerDatabaseUrl: proxy.url });
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

const startBatch = async (webhook: Record<string, unknown>) => (await createBatch(h, chatLines(2), { webhook })).id;

const deliveryOf = (batchId: string) => h.env.client.workflow.getHandle(webhookDeliveryWorkflowId(batchId, 'completed', 1));

const attemptLog = async (batchId: string) => (await listDeliveryAttempts(h, batchId)).data;

const deadLettersOf = async (batchId: string) => (await listDeadLetters(h, `?batch_id=${batchId}`)).data;

describe('webhook bookkeeping survives Postgres and worker failures', () => {
  it('delivers exactly once, and never dead-letters, when Postgres goes away right after the receiver answered 200', async () => {
    // Postgres disappears for the worker while the receiver is answering the first attempt.
    let answered!: () => void;
    const firstAnswered = new Promise<void>((resolve) => (answered = resolve));
    const receiver = await startWebhookReceiver(() => {
      proxy.cut();
      answered();
      return { status: 200 };
    });
    const batchId = await startBatch({ url: receiver.url, max_retries: 2 });
    await firstAnswered;
    const result = deliveryOf(batchId).result();
    // Back once the worker has failed to reach it a few times (recording the outcome, with backoff).
    await proxy.refusals(4);
    proxy.restore();

    expect(await result).toMatchObject({ status: 'delivered', attempts: 1, statusCode: 200 });
    expect(receiver.received).toHaveLength(1);
    expect((await attemptLog(batchId)).map((a) => [a.attempt, a.status_code, a.success, a.error])).toEqual([[1, 200, true, null]]);
    expect(await deadLettersOf(batchId)).toEqual([]);
    await receiver.close();
  });

  it('spends no attempt while Postgres is down before an attempt, and delivers once it is back', async () => {
    const state = { down: true };
    const receiver = await startWebhookReceiver(() => ({ status: state.down ? 500 : 204 }));
    const batchId = await startBatch({ url: receiver.url, max_retries: 2 });
    await batchOutcome(h, batchId);
    const dead = await deliveryOf(batchId).result();
    expect(dead).toMatchObject({ status: 'dead_lettered', attempts: 2 });
    const deadLetterId = deadLetterIdOf(dead);

    // The receiver recovers, but the worker's Postgres is gone when the manual retry starts.
    state.down = false;
    proxy.cut();
    const retry = await bodyOf<DeadLetterEntry>(await h.api(`/v1/webhooks/dead-letter/${deadLetterId}/retry`, { method: 'POST' }));
    const result = h.env.client.workflow.getHandle(retry.delivery_workflow_id!).result();
    // Preparing the attempt fails twice (a second apart: activity backoff runs in real time).
    await proxy.refusals(2);
    expect(receiver.received).toHaveLength(2);
    proxy.restore();

    expect(await result).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(receiver.received).toHaveLength(3);
    const retried = (await attemptLog(batchId)).filter((a) => a.delivery_workflow_id === retry.delivery_workflow_id);
    expect(retried.map((a) => [a.attempt, a.status_code, a.success])).toEqual([[1, 204, true]]);
    const entry = await getDeadLetter(h, deadLetterId);
    expect(entry).toMatchObject({ state: 'succeeded', retry_success: true });
    await receiver.close();
  });

  it('logs an attempt cut short by a stopped worker as started and unfinished, then the next attempt', async () => {
    let arrived!: () => void;
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Holds the first request until the worker is gone; answers the next one at once.
    const receiver = await startWebhookReceiver((n) => {
      if (n > 1) return { status: 200 };
      arrived();
      return { status: 200, until: gate };
    });
    const batchId = await startBatch({ url: receiver.url, max_retries: 3, timeout: 30 });
    await firstArrived;

    // The attempt is in the log before its request has come back.
    expect((await attemptLog(batchId)).map((a) => [a.attempt, a.status_code, a.success, a.error, a.duration_ms])).toEqual([
      [1, null, false, null, null],
    ]);

    await h.stopWorker();
    release();
    await h.startWorker();

    expect(await deliveryOf(batchId).result()).toMatchObject({ status: 'delivered', attempts: 2 });
    expect((await attemptLog(batchId)).map((a) => [a.attempt, a.status_code, a.success, a.error])).toEqual([
      [1, null, false, 'interrupted'],
      [2, 200, true, null],
    ]);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    await receiver.close();
  });
});
