import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createLogger } from '../src/shared/logger.js';
import { verifyWebhookSignature } from '../src/webhooks/verify-webhook-signature.js';
import { bodyOf, call, errorOf, getBatch, listDeliveryAttempts, type BatchObject, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { ALICE_KEY, BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver.js';

let h: Harness;
beforeAll(async () => {
  // Ten seconds between attempts, on the real clock while no test awaits a workflow's result: long
  // enough for a test to change the settings between two attempts without racing the retry.
  h = await startHarness({ WEBHOOK_RETRY_INITIAL_SECONDS: '10' });
});
afterAll(async () => {
  await h?.close();
});

const OLD_SECRET = 'whsec_b2xkLXNlY3JldC1mb3Itd2ViaG9vay1zZXR0aW5ncw==';
const NEW_SECRET = 'whsec_bmV3LXNlY3JldC1mb3Itd2ViaG9vay1zZXR0aW5ncw==';

const patchWebhook = (batchId: string, json: unknown, key?: string) => h.api(`/v1/batches/${batchId}/webhook`, { method: 'PATCH', json, key });

/** A receiver plus a promise of its first request. */
async function receiverFailingWith(status: number) {
  let firstHit!: (hit: ReceivedWebhook) => void;
  const first = new Promise<ReceivedWebhook>((resolve) => (firstHit = resolve));
  const receiver = await startWebhookReceiver((n, hit) => {
    if (n === 1) firstHit(hit);
    return { status };
  });
  return { ...receiver, first };
}

/** Waits (polling the API) until the batch's workflow has read its plan and requests are running. */
async function untilInProgress(batchId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await getBatch(h, batchId)).status === 'in_progress') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`batch ${batchId} never reached in_progress`);
}

describe('PATCH /v1/batches/{id}/webhook', () => {
  it('validates like batch creation, refuses an empty body and never returns the secret', async () => {
    const receiver = await startWebhookReceiver();
    const batch = await createBatch(h, chatLines(1), { webhook: { url: receiver.url } });
    await batchOutcome(h, batch.id);

    let res = await patchWebhook(batch.id, {});
    expect(res.status).toBe(400);
    res = await patchWebhook(batch.id, { max_retries: 0 });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).param).toBe('max_retries');
    res = await patchWebhook(batch.id, { events: ['in_progress'] });
    expect(res.status).toBe(400);
    res = await patchWebhook(batch.id, { url: 'ftp://example.com/hook' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_webhook_url', param: 'url' });
    res = await patchWebhook(batch.id, { unknown_field: 1 });
    expect(res.status).toBe(400);

    // The SSRF check of batch creation applies when private networks are not allowed.
    const strict = createApp({
      pool: h.pool,
      temporal: h.env.client,
      config: { ...h.config, webhook: { ...h.config.webhook, allowPrivateNetworks: false } },
      log: createLogger('silent', 'test'),
    });
    const refused = await strict.request(`/v1/batches/${batch.id}/webhook`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ALICE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://169.254.169.254/latest/meta-data' }),
    });
    expect(refused.status).toBe(400);
    expect(await errorOf(refused)).toMatchObject({ code: 'invalid_webhook_url', param: 'url' });

    const updated = await call<BatchObject>(h, `/v1/batches/${batch.id}/webhook`, {
      method: 'PATCH',
      json: { events: ['batch.completed', 'failed'], max_retries: 7, timeout: 45, secret: NEW_SECRET },
    });
    expect(updated).toMatchObject({ id: batch.id, object: 'batch' });
    expect(updated.webhook).toEqual({ url: receiver.url, events: ['completed', 'failed'], max_retries: 7, timeout: 45, has_secret: true });
    expect(JSON.stringify(updated)).not.toContain(NEW_SECRET);
    expect((await getBatch(h, batch.id)).webhook).toEqual(updated.webhook);

    const cleared = await call<BatchObject>(h, `/v1/batches/${batch.id}/webhook`, { method: 'PATCH', json: { secret: null } });
    expect(cleared.webhook).toMatchObject({ max_retries: 7, has_secret: false });
    await receiver.close();
  });

  it('is 404 for an unknown batch and for another owner\'s', async () => {
    const batch = await createBatch(h, chatLines(1), { webhook: { url: 'http://127.0.0.1:9/hook' } });
    await batchOutcome(h, batch.id);
    expect((await patchWebhook('batch_unknown', { timeout: 10 })).status).toBe(404);
    const res = await patchWebhook(batch.id, { url: 'http://127.0.0.1:9/elsewhere' }, BOB_KEY);
    expect(res.status).toBe(404);
    expect((await getBatch(h, batch.id)).webhook?.url).toBe('http://127.0.0.1:9/hook');
  });

  it('adds a webhook to a running batch that has none only with a url, and the batch delivers with the new settings', async () => {
    const receiver = await receiverFailingWith(500);
    // One slow request keeps the batch in progress after its workflow has read its (webhook-less) plan.
    const batch = await createBatch(h, chatLines(1, () => ({ echo_delay_ms: 3_000 })));
    await untilInProgress(batch.id);

    const refused = await patchWebhook(batch.id, { events: ['completed'] });
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({ code: 'webhook_not_configured', param: 'url' });

    const added = await call<BatchObject>(h, `/v1/batches/${batch.id}/webhook`, { method: 'PATCH', json: { url: receiver.url, max_retries: 1 } });
    expect(added.webhook).toEqual({ url: receiver.url, events: ['completed', 'failed', 'cancelled', 'expired'], max_retries: 1, timeout: 30, has_secret: false });

    expect(await batchOutcome(h, batch.id)).toBe('completed');
    // The running workflow took the new webhook and its max_retries: one attempt, then the dead-letter queue.
    expect(await deliveryResult(h, batch.id, 'completed')).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    expect(receiver.received).toHaveLength(1);
    await receiver.close();
  });

  it('moves a delivery that is still retrying to the new URL and secret from its next attempt', async () => {
    const a = await receiverFailingWith(500);
    const b = await startWebhookReceiver();
    const batch = await createBatch(h, chatLines(1), { webhook: { url: a.url, secret: OLD_SECRET, max_retries: 3 } });
    const firstAttempt = await a.first;

    await call<BatchObject>(h, `/v1/batches/${batch.id}/webhook`, { method: 'PATCH', json: { url: b.url, secret: NEW_SECRET } });
    expect(await deliveryResult(h, batch.id, 'completed')).toMatchObject({ status: 'delivered', attempts: 2 });

    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    const moved = b.received[0]!;
    expect(moved.headers['webhook-id']).toBe(firstAttempt.headers['webhook-id']);
    expect(moved.body).toBe(firstAttempt.body);
    const headers = moved.headers as Record<string, string>;
    expect(() => verifyWebhookSignature({ payload: moved.body, headers, secret: NEW_SECRET })).not.toThrow();
    expect(new Webhook(NEW_SECRET).verify(moved.body, headers)).toMatchObject({ type: 'batch.completed' });
    expect(() => verifyWebhookSignature({ payload: moved.body, headers, secret: OLD_SECRET })).toThrow();

    const log = await listDeliveryAttempts(h, batch.id);
    expect(log.data.map((attempt) => [attempt.attempt, attempt.url, attempt.success])).toEqual([
      [1, a.url, false],
      [2, b.url, true],
    ]);
    await a.close();
    await b.close();
  });

  it('sends a dead-letter retry made after the change to the new URL', async () => {
    const a = await receiverFailingWith(503);
    const b = await startWebhookReceiver();
    const batch = await createBatch(h, chatLines(1), { webhook: { url: a.url, max_retries: 1 } });
    await batchOutcome(h, batch.id);
    const deadLetterId = deadLetterIdOf(await deliveryResult(h, batch.id, 'completed'));

    await call<BatchObject>(h, `/v1/batches/${batch.id}/webhook`, { method: 'PATCH', json: { url: b.url } });
    const res = await h.api(`/v1/webhooks/dead-letter/${deadLetterId}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    const entry = await bodyOf<DeadLetterEntry>(res);
    expect(await h.env.client.workflow.getHandle(entry.delivery_workflow_id!).result()).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    expect(b.received[0]!.headers['webhook-id']).toBe(a.received[0]!.headers['webhook-id']);
    expect(b.received[0]!.body).toBe(a.received[0]!.body);
    await a.close();
    await b.close();
  });
});
