import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../src/webhooks/verify-webhook-signature.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { batchOutcome, createBatch, deliveryResult } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

// A real Temporal dev server (the one behind the Web UI), so visibility queries work.
const GLOBAL_SECRET = 'global-signing-secret-for-tests';
let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    { BATCH_PROGRESS_INTERVAL_SECONDS: '1', BATCH_CHUNK_CONCURRENCY: '1', WEBHOOK_SECRET: GLOBAL_SECRET },
    { server: 'dev-server' },
  );
});
afterAll(async () => {
  await h?.close();
});

async function startBatch(lines: string, webhook: Record<string, unknown>) {
  const batch = await createBatch(h, lines, { webhook });
  await batchOutcome(h, batch.id);
  return batch.id;
}

async function listIds(query: string) {
  const ids: string[] = [];
  for await (const wf of h.env.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}

describe('tracing deliveries in the Web UI', () => {
  it('finds every workflow of a batch by BatchId and deliveries by WebhookEventType, with the URL in the memo', async () => {
    const receiver = await startWebhookReceiver();
    // Slow chunks (1.2 s each, one at a time) so that progress events fall due.
    const lines = chatLines(15, () => ({ echo_delay_ms: 1200 }));
    const batchId = await startBatch(lines, { url: receiver.url, events: ['progress', 'completed'] });
    const completedId = webhookDeliveryWorkflowId(batchId, 'completed', 1);
    const progressId = webhookDeliveryWorkflowId(batchId, 'progress', 1);
    await deliveryResult(h, batchId, 'completed');
    await deliveryResult(h, batchId, 'progress');

    let all: string[] = [];
    // Visibility is eventually consistent: poll briefly until the index has caught up.
    for (let i = 0; i < 50 && !all.includes(completedId); i++) {
      all = await listIds(`BatchId = "${batchId}"`);
      if (!all.includes(completedId)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(all).toContain(batchWorkflowId(batchId));
    expect(all).toContain(completedId);
    expect(all).toContain(progressId);
    const completedOnly = await listIds(`BatchId = "${batchId}" AND WebhookEventType = "completed"`);
    expect(completedOnly).toEqual([completedId]);

    const description = await h.env.client.workflow.getHandle(completedId).describe();
    expect(description.memo).toMatchObject({ webhookUrl: receiver.url });

    const types = receiver.received.map((r) => JSON.parse(r.body).type);
    expect(types[types.length - 1]).toBe('batch.completed');
    expect(types.filter((t) => t === 'batch.progress').length).toBeGreaterThanOrEqual(1);
    const progress = JSON.parse(receiver.received.find((r) => JSON.parse(r.body).type === 'batch.progress')!.body);
    expect(progress.data).toMatchObject({ id: batchId, status: 'in_progress' });
    expect(progress.data.request_counts.completed).toBeGreaterThan(0);
    await receiver.close();
  });

  it('sends no progress events unless asked for', async () => {
    const receiver = await startWebhookReceiver();
    const batchId = await startBatch(chatLines(10, () => ({ echo_delay_ms: 1200 })), { url: receiver.url });
    await deliveryResult(h, batchId, 'completed');
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual(['batch.completed']);
    await receiver.close();
  });

  it('honours Retry-After on 429 instead of the backoff schedule', async () => {
    // Real time on the dev server: the default first backoff here is 1 s; Retry-After asks for 3 s.
    const receiver = await startWebhookReceiver((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 }));
    const batchId = await startBatch(chatLines(1), { url: receiver.url, max_retries: 2 });
    expect(await deliveryResult(h, batchId, 'completed')).toMatchObject({ status: 'delivered', attempts: 2 });
    const [first, second] = receiver.received;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(2_900);
    await receiver.close();
  });

  it('signs with the global WEBHOOK_SECRET when the webhook has none, and keeps it out of history', async () => {
    const receiver = await startWebhookReceiver();
    const batchId = await startBatch(chatLines(1), { url: receiver.url });
    await deliveryResult(h, batchId, 'completed');
    const hit = receiver.received[0]!;
    expect(hit.headers['x-webhook-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(() => verifyWebhookSignature({ payload: hit.body, headers: hit.headers as Record<string, string>, secret: GLOBAL_SECRET })).not.toThrow();
    for (const id of [batchWorkflowId(batchId), webhookDeliveryWorkflowId(batchId, 'completed', 1)]) {
      expect(JSON.stringify(await h.env.client.workflow.getHandle(id).fetchHistory())).not.toContain(GLOBAL_SECRET);
    }
    await receiver.close();
  });
});
