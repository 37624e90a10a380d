import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createLogger } from '../src/shared/logger.js';
import { verifyWebhookSignature } from '../src/webhooks/verify-webhook-signature.js';
import { webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
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

describe('POST /v1/batches/{id}/webhook/rotate_secret', () => {
  type Rotated = BatchObject & { webhook: NonNullable<BatchObject['webhook']> & { secret: string; previous_secret_expires_at: number | null } };
  const rotate = (batchId: string, json?: unknown, key?: string) =>
    h.api(`/v1/batches/${batchId}/webhook/rotate_secret`, { method: 'POST', json, key });
  /** Whether the delivery verifies with `secret`, for our verifier on each header and for the standardwebhooks library. */
  const verifies = (hit: ReceivedWebhook, secret: string) => {
    const headers = hit.headers as Record<string, string>;
    const { 'webhook-signature': _standard, ...seedOnly } = headers;
    const ours = (hs: Record<string, string>) => {
      try {
        verifyWebhookSignature({ payload: hit.body, headers: hs, secret });
        return true;
      } catch {
        return false;
      }
    };
    let library = true;
    try {
      new Webhook(secret).verify(hit.body, headers);
    } catch {
      library = false;
    }
    return [ours(headers), ours(seedOnly), library];
  };

  it('signs the next attempt of a delivery under way with the new and the old secret; the new one is shown once', async () => {
    const a = await receiverFailingWith(500);
    const batch = await createBatch(h, chatLines(1), { webhook: { url: a.url, secret: OLD_SECRET, max_retries: 2 } });
    const first = await a.first;
    expect(verifies(first, OLD_SECRET)).toEqual([true, true, true]);

    const res = await rotate(batch.id);
    expect(res.status).toBe(200);
    const rotated = await bodyOf<Rotated>(res);
    const fresh = rotated.webhook.secret;
    expect(fresh).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.webhook.has_secret).toBe(true);
    const overlap = rotated.webhook.previous_secret_expires_at! - Math.floor(Date.now() / 1000);
    expect(overlap).toBeGreaterThan(86_400 - 60);
    expect(overlap).toBeLessThanOrEqual(86_400);

    expect(await deliveryResult(h, batch.id, 'completed')).toMatchObject({ status: 'dead_lettered', attempts: 2 });
    const second = a.received[1]!;
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(String(second.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(String(second.headers['x-webhook-signature']).split(',')).toHaveLength(2);
    expect(verifies(second, fresh)).toEqual([true, true, true]);
    expect(verifies(second, OLD_SECRET)).toEqual([true, true, true]);
    expect(verifies(second, NEW_SECRET)).toEqual([false, false, false]);

    // Never again: not in the batch, the lists, the dead-letter queue, nor any workflow history.
    for (const path of [`/v1/batches/${batch.id}`, '/v1/batches', `/v1/batches/${batch.id}/webhook_deliveries`, '/v1/webhooks/dead-letter']) {
      expect(await (await h.api(path)).text()).not.toContain(fresh);
    }
    const history = JSON.stringify(await h.env.client.workflow.getHandle(webhookDeliveryWorkflowId(batch.id, 'completed', 1)).fetchHistory());
    expect(history).not.toContain(fresh);
    expect(history).not.toContain(OLD_SECRET);
    await a.close();
  });

  it('stops signing with the old secret once the overlap is over', async () => {
    const receiver = await startWebhookReceiver((n) => ({ status: n < 3 ? 503 : 200 }));
    const batch = await createBatch(h, chatLines(1), { webhook: { url: receiver.url, secret: OLD_SECRET, max_retries: 1 } });
    await batchOutcome(h, batch.id);
    const deadLetterId = deadLetterIdOf(await deliveryResult(h, batch.id, 'completed'));
    const retryOnce = async () => {
      const res = await h.api(`/v1/webhooks/dead-letter/${deadLetterId}/retry`, { method: 'POST' });
      expect(res.status).toBe(202);
      return h.env.client.workflow.getHandle((await bodyOf<DeadLetterEntry>(res)).delivery_workflow_id!).result();
    };

    const rotated = await bodyOf<Rotated>(await rotate(batch.id, { secret: NEW_SECRET }));
    expect(rotated.webhook.secret).toBe(NEW_SECRET);
    await retryOnce();
    expect(verifies(receiver.received[1]!, NEW_SECRET)).toEqual([true, true, true]);
    expect(verifies(receiver.received[1]!, OLD_SECRET)).toEqual([true, true, true]);

    // The overlap ends (as it would after WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS).
    await h.pool.query(`UPDATE batches SET webhook_previous_secret_expires_at = now() - interval '1 second' WHERE id = $1::text`, [batch.id]);
    expect(await retryOnce()).toMatchObject({ status: 'delivered' });
    const last = receiver.received[2]!;
    expect(last.headers['webhook-id']).toBe(receiver.received[0]!.headers['webhook-id']);
    expect(verifies(last, NEW_SECRET)).toEqual([true, true, true]);
    expect(verifies(last, OLD_SECRET)).toEqual([false, false, false]);
    await receiver.close();
  });

  it('validates its optional body and is 404 or 409 when there is nothing to rotate', async () => {
    const withWebhook = await createBatch(h, chatLines(1), { webhook: { url: 'http://127.0.0.1:9/hook' } });
    const without = await createBatch(h, chatLines(1));
    await batchOutcome(h, withWebhook.id);
    await batchOutcome(h, without.id);
    expect((await rotate(withWebhook.id, { secret: '' })).status).toBe(400);
    expect((await rotate(withWebhook.id, { secret: 'x'.repeat(129) })).status).toBe(400);
    expect((await rotate(withWebhook.id, { other: 1 })).status).toBe(400);
    expect((await h.api(`/v1/batches/${withWebhook.id}/webhook/rotate_secret`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await rotate(withWebhook.id, undefined, BOB_KEY)).status).toBe(404);
    expect((await rotate('batch_unknown')).status).toBe(404);
    const res = await rotate(without.id);
    expect(res.status).toBe(409);
    expect(await errorOf(res)).toMatchObject({ code: 'webhook_not_configured' });
    // No previous secret anywhere (no own secret, no WEBHOOK_SECRET): nothing overlaps.
    const first = await bodyOf<Rotated>(await rotate(withWebhook.id));
    expect(first.webhook.previous_secret_expires_at).toBeNull();
    // A PATCH of the secret replaces it outright and ends an overlap.
    expect((await bodyOf<Rotated>(await rotate(withWebhook.id))).webhook.previous_secret_expires_at).not.toBeNull();
    await call<BatchObject>(h, `/v1/batches/${withWebhook.id}/webhook`, { method: 'PATCH', json: { secret: NEW_SECRET } });
    const { rows } = await h.pool.query(`SELECT webhook_previous_secret FROM batches WHERE id = $1::text`, [withWebhook.id]);
    expect(rows[0].webhook_previous_secret).toBeNull();
  });
});
