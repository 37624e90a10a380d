import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../src/webhooks/verify-webhook-signature.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { getBatch, listDeadLetters, listDeliveryAttempts } from './support/api-client.js';
import { batchOutcome, createBatch, deliveryResult } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const SECRET = 'whsec_dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tzLTEyMzQ1Njc4';

async function runBatch(webhook: Record<string, unknown> | null, opts: { lines?: string; metadata?: Record<string, string> } = {}) {
  const batch = await createBatch(h, opts.lines ?? chatLines(3), { webhook: webhook ?? undefined, metadata: opts.metadata });
  await batchOutcome(h, batch.id);
  return batch.id;
}

const delivery = (batchId: string, event: string, seq = 1) => deliveryResult(h, batchId, event, seq);

describe('webhook delivery', () => {
  it('delivers a signed batch.completed event exactly once after N-1 failures', async () => {
    const receiver = await startWebhookReceiver((n) => ({ status: n < 3 ? 500 : 200 }));
    const batchId = await runBatch({ url: receiver.url, secret: SECRET, max_retries: 3 });
    expect(await delivery(batchId, 'completed')).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(receiver.received).toHaveLength(3);
    const bodies = new Set(receiver.received.map((r) => r.body));
    expect(bodies.size).toBe(1);
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const last = receiver.received[2]!;
    const event = JSON.parse(last.body);
    expect(event).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: batchId, status: 'completed' } });
    expect(event.id).toMatch(/^evt_/);
    expect(last.headers['x-webhook-event']).toBe('batch.completed');
    const headers = last.headers as Record<string, string>;
    expect(() => verifyWebhookSignature({ payload: last.body, headers, secret: SECRET })).not.toThrow();
    // Receivers using OpenAI's SDK or the standardwebhooks library verify our deliveries unchanged.
    await expect(new OpenAI({ apiKey: 'unused', webhookSecret: SECRET }).webhooks.unwrap(last.body, headers)).resolves.toMatchObject({ id: event.id });
    expect(new Webhook(SECRET).verify(last.body, headers)).toMatchObject({ id: event.id });

    const log = await listDeliveryAttempts(h, batchId);
    expect(log.data.map((a) => [a.attempt, a.status_code, a.success])).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ]);
    expect(log.data[0]!.response_body).toContain('receiver says 500');
    await receiver.close();
  });

  it('dead-letters exactly once with attempts = max_retries when the receiver always fails', async () => {
    const receiver = await startWebhookReceiver(() => ({ status: 503 }));
    const batchId = await runBatch({ url: receiver.url, max_retries: 2 });
    const result = await delivery(batchId, 'completed');
    expect(result).toMatchObject({ status: 'dead_lettered', attempts: 2 });
    const list = await listDeadLetters(h, `?batch_id=${batchId}`);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ batch_id: batchId, attempts: 2, event_type: 'batch.completed', state: 'pending', error_message: 'HTTP 503' });
    await receiver.close();
  });

  it('applies the per-webhook timeout to a slow receiver', async () => {
    const receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 7_000 }));
    const batchId = await runBatch({ url: receiver.url, max_retries: 1, timeout: 5 });
    expect(await delivery(batchId, 'completed')).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    const log = await listDeliveryAttempts(h, batchId);
    expect(log.data[0]!.error).toBe('timed out after 5s');
    expect(log.data[0]!.duration_ms).toBeGreaterThanOrEqual(4_900);
    await receiver.close();
  });

  it('filters events: completed-only on a failing batch and failed-only on a succeeding one send nothing', async () => {
    const receiver = await startWebhookReceiver();
    const failing = await runBatch({ url: receiver.url, events: ['completed'] }, { lines: '{bad json' });
    const succeeding = await runBatch({ url: receiver.url, events: ['batch.failed'] });
    const wf = h.env.client.workflow;
    await expect(wf.getHandle(webhookDeliveryWorkflowId(failing, 'failed', 1)).describe()).rejects.toThrow();
    await expect(wf.getHandle(webhookDeliveryWorkflowId(succeeding, 'completed', 1)).describe()).rejects.toThrow();
    expect(receiver.received).toHaveLength(0);
    await receiver.close();
  });

  it('supports the legacy metadata.webhook_url with global defaults', async () => {
    const receiver = await startWebhookReceiver();
    const batchId = await runBatch(null, { metadata: { webhook_url: receiver.url } });
    expect(await delivery(batchId, 'completed')).toMatchObject({ status: 'delivered' });
    const batch = await getBatch(h, batchId);
    expect(batch.webhook).toEqual({ url: receiver.url, events: ['completed', 'failed', 'cancelled', 'expired'], max_retries: 3, timeout: 30, has_secret: false });
    // No secret anywhere: delivered unsigned, still identified.
    const headers = receiver.received[0]!.headers;
    expect(headers['webhook-id']).toMatch(/^evt_/);
    expect(headers['webhook-signature']).toBeUndefined();
    expect(headers['x-webhook-signature']).toBeUndefined();
    await receiver.close();
  });

  it('lets a delivery outlive its batch workflow without holding it up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const receiver = await startWebhookReceiver(() => ({ status: 200, until: gate }));
    const batchId = await runBatch({ url: receiver.url, timeout: 60 });
    const batchRun = await h.env.client.workflow.getHandle(batchWorkflowId(batchId)).describe();
    expect(batchRun.status.name).toBe('COMPLETED');
    const deliveryHandle = h.env.client.workflow.getHandle(webhookDeliveryWorkflowId(batchId, 'completed', 1));
    expect((await deliveryHandle.describe()).status.name).toBe('RUNNING');
    release();
    expect(await deliveryHandle.result()).toMatchObject({ status: 'delivered', attempts: 1 });
    await receiver.close();
  });

  it('keeps every secret out of workflow histories, memos and API responses', async () => {
    const receiver = await startWebhookReceiver((n) => ({ status: n === 1 ? 500 : 200 }));
    const batchId = await runBatch({ url: receiver.url, secret: SECRET, max_retries: 2 });
    await delivery(batchId, 'completed');
    const workflowIds = [batchWorkflowId(batchId), webhookDeliveryWorkflowId(batchId, 'completed', 1)];
    for (const id of workflowIds) {
      const handle = h.env.client.workflow.getHandle(id);
      const history = JSON.stringify(await handle.fetchHistory());
      expect(history.length).toBeGreaterThan(100);
      expect(history).not.toContain(SECRET);
      expect(history).not.toContain(Buffer.from(SECRET).toString('base64'));
      expect(JSON.stringify(await handle.describe())).not.toContain(SECRET);
    }
    const memo = (await h.env.client.workflow.getHandle(workflowIds[1]!).describe()).memo;
    expect(memo).toMatchObject({ webhookUrl: receiver.url });
    for (const path of [`/v1/batches/${batchId}`, '/v1/batches', `/v1/batches/${batchId}/webhook_deliveries`, '/v1/webhooks/dead-letter']) {
      expect(await (await h.api(path)).text()).not.toContain(SECRET);
    }
    await receiver.close();
  });

  it('never follows redirects: a 3xx is a failed attempt', async () => {
    const target = await startWebhookReceiver();
    const redirecting = await startWebhookReceiver(() => ({ status: 307, headers: { location: target.url } }));
    const batchId = await runBatch({ url: redirecting.url, max_retries: 2 });
    expect(await delivery(batchId, 'completed')).toMatchObject({ status: 'dead_lettered', attempts: 2 });
    expect(redirecting.received).toHaveLength(2);
    expect(target.received).toHaveLength(0);
    const log = await listDeliveryAttempts(h, batchId);
    expect(log.data.map((a) => [a.status_code, a.success])).toEqual([
      [307, false],
      [307, false],
    ]);
    await target.close();
    await redirecting.close();
  });
});
