import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { bodyOf, errorOf, getDeadLetter, listDeadLetters, type BulkRetryResult, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** A switchable receiver: fails while `down` is true. */
async function flakyReceiver() {
  const state = { down: true };
  const receiver = await startWebhookReceiver(() => ({ status: state.down ? 500 : 204 }));
  return Object.assign(receiver, { state });
}

/** Runs a batch whose completed event ends in the dead-letter queue; returns the entry. */
async function deadLetteredBatch(url: string, opts: { lines?: string; events?: string[] } = {}) {
  const batch = await createBatch(h, opts.lines ?? chatLines(2), { webhook: { url, max_retries: 2, events: opts.events } });
  const outcome = await batchOutcome(h, batch.id);
  const event = outcome === 'failed' ? 'failed' : 'completed';
  const result = await deliveryResult(h, batch.id, event);
  expect(result.status).toBe('dead_lettered');
  return getDeadLetter(h, deadLetterIdOf(result));
}

/** Waits for the delivery a retry started. */
const retryDelivery = (entry: DeadLetterEntry) => h.env.client.workflow.getHandle(entry.delivery_workflow_id!).result();

const retry = (id: number, key?: string) => h.api(`/v1/webhooks/dead-letter/${id}/retry`, { method: 'POST', key });

describe('dead-letter queue API', () => {
  it('lists entries newest first with cursor pagination and filters', async () => {
    const receiver = await flakyReceiver();
    const a = await deadLetteredBatch(receiver.url);
    const b = await deadLetteredBatch(receiver.url, { lines: '{oops' });
    const c = await deadLetteredBatch(receiver.url);
    expect(a).toMatchObject({ object: 'webhook_dead_letter', state: 'pending', attempts: 2, retry_success: null, retried_at: null });
    expect(a.payload).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: a.batch_id } });

    const page1 = await listDeadLetters(h, '?limit=2');
    expect(page1).toMatchObject({ object: 'list', has_more: true });
    expect(page1.data.map((e) => e.id)).toEqual([c.id, b.id]);
    const page2 = await listDeadLetters(h, `?limit=2&after=${page1.last_id}`);
    expect(page2.data[0]!.id).toBe(a.id);

    const failedOnly = await listDeadLetters(h, '?event_type=batch.failed');
    expect(failedOnly.data.map((e) => e.id)).toContain(b.id);
    expect(failedOnly.data.every((e) => e.event_type === 'batch.failed')).toBe(true);
    const byBatch = await listDeadLetters(h, `?batch_id=${c.batch_id}`);
    expect(byBatch.data.map((e) => e.id)).toEqual([c.id]);
    expect((await h.api('/v1/webhooks/dead-letter?state=bogus')).status).toBe(400);
    expect((await h.api('/v1/webhooks/dead-letter?limit=0')).status).toBe(400);

    // Another owner sees none of it.
    const bob = await listDeadLetters(h, '', BOB_KEY);
    expect(bob.data).toEqual([]);
    expect((await h.api(`/v1/webhooks/dead-letter/${a.id}`, { key: BOB_KEY })).status).toBe(404);
    expect((await retry(a.id, BOB_KEY)).status).toBe(404);
    await receiver.close();
  });

  it('retries an entry manually: same event id and body, then marks it succeeded', async () => {
    const receiver = await flakyReceiver();
    const entry = await deadLetteredBatch(receiver.url);
    const originalBody = receiver.received[0]!.body;
    receiver.state.down = false;

    const res = await retry(entry.id);
    expect(res.status).toBe(202);
    const started = await bodyOf<DeadLetterEntry>(res);
    expect(started).toMatchObject({ id: entry.id, state: 'retrying', retry_count: 1 });
    expect(started.retried_at).toEqual(expect.any(Number));
    expect(started.delivery_workflow_id).toBe(`${webhookDeliveryWorkflowId(entry.batch_id!, 'completed', 1)}/retry-1`);
    expect(await retryDelivery(started)).toMatchObject({ status: 'delivered' });

    const after = await getDeadLetter(h, entry.id);
    expect(after).toMatchObject({ state: 'succeeded', retry_success: true });
    const redelivered = receiver.received[receiver.received.length - 1]!;
    expect(redelivered.body).toBe(originalBody);
    expect(redelivered.headers['webhook-id']).toBe(entry.event_id);
    const succeeded = await listDeadLetters(h, '?state=succeeded');
    expect(succeeded.data.map((e) => e.id)).toContain(entry.id);
    expect((await retry(entry.id)).status).toBe(409);
    await receiver.close();
  });

  it('records a failed manual retry on the same entry', async () => {
    const receiver = await flakyReceiver();
    const entry = await deadLetteredBatch(receiver.url);
    const started = await bodyOf<DeadLetterEntry>(await retry(entry.id));
    expect(await retryDelivery(started)).toMatchObject({ status: 'dead_lettered', deadLetterId: entry.id });
    const after = await getDeadLetter(h, entry.id);
    expect(after).toMatchObject({ id: entry.id, state: 'failed', retry_success: false, attempts: 2, error_message: 'HTTP 500' });
    const all = await listDeadLetters(h, `?batch_id=${entry.batch_id}`);
    expect(all.data).toHaveLength(1);
    await receiver.close();
  });

  it('starts one delivery for two concurrent retries of one entry', async () => {
    const receiver = await flakyReceiver();
    const entry = await deadLetteredBatch(receiver.url);
    receiver.state.down = false;
    const before = receiver.received.length;
    const [first, second] = await Promise.all([retry(entry.id), retry(entry.id)]);
    expect([first.status, second.status]).toEqual([202, 202]);
    const bodies = [await bodyOf<DeadLetterEntry>(first), await bodyOf<DeadLetterEntry>(second)] as const;
    expect(bodies[0].delivery_workflow_id).toBe(bodies[1].delivery_workflow_id);
    await retryDelivery(bodies[0]);
    expect(receiver.received.length - before).toBe(1);
    const after = await getDeadLetter(h, entry.id);
    expect(after.retry_count).toBe(1);
    await receiver.close();
  });

  it('a retry that meets a concurrent claim of the entry waits for it and answers with its delivery', async () => {
    const receiver = await flakyReceiver();
    const entry = await deadLetteredBatch(receiver.url);
    // Another request's claim, caught between its UPDATE and its commit.
    const claim = await h.pool.connect();
    try {
      await claim.query('BEGIN');
      await claim.query(
        `UPDATE webhook_dead_letter SET state = 'retrying', retry_count = retry_count + 1, last_delivery_id = last_delivery_id || '/retry-1' WHERE id = $1`,
        [entry.id],
      );
      const answer = retry(entry.id);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await claim.query('COMMIT');
      const res = await answer;
      expect(res.status).toBe(202);
      const body = await bodyOf<DeadLetterEntry>(res);
      expect(body).toMatchObject({ state: 'retrying', retry_count: 1, delivery_workflow_id: `${webhookDeliveryWorkflowId(entry.batch_id!, 'completed', 1)}/retry-1` });
    } finally {
      claim.release();
      await receiver.close();
    }
  });

  it('deletes an entry, then answers 404 for it everywhere', async () => {
    const receiver = await flakyReceiver();
    const entry = await deadLetteredBatch(receiver.url);
    const res = await h.api(`/v1/webhooks/dead-letter/${entry.id}`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ id: entry.id, object: 'webhook_dead_letter', deleted: true });
    for (const [method, path] of [
      ['GET', `/v1/webhooks/dead-letter/${entry.id}`],
      ['DELETE', `/v1/webhooks/dead-letter/${entry.id}`],
      ['POST', `/v1/webhooks/dead-letter/${entry.id}/retry`],
      ['GET', '/v1/webhooks/dead-letter/not-a-number'],
    ] as const) {
      const r = await h.api(path, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(await errorOf(r)).toMatchObject({ code: 'not_found', type: 'invalid_request_error' });
    }
    await receiver.close();
  });

  it('retries every matching entry in bulk, at a bounded rate, and reports how many it started', async () => {
    const receiver = await flakyReceiver();
    const entries = [await deadLetteredBatch(receiver.url), await deadLetteredBatch(receiver.url)];
    const other = await deadLetteredBatch(receiver.url, { lines: '{oops' });
    receiver.state.down = false;
    const sinceSeconds = Math.min(...entries.map((e) => e.created_at));
    const res = await h.api('/v1/webhooks/dead-letter/retry', { method: 'POST', json: { event_type: 'completed', created_since: sinceSeconds } });
    expect(res.status).toBe(202);
    const bulk = await bodyOf<BulkRetryResult>(res);
    expect(bulk).toMatchObject({ object: 'webhook_dead_letter.bulk_retry', started: 2, has_more: false });
    expect(bulk.data.map((d) => d.id).sort()).toEqual(entries.map((e) => e.id).sort());
    expect(await h.env.client.workflow.getHandle(bulk.workflow_id!).result()).toEqual({ started: 2 });
    for (const d of bulk.data) await h.env.client.workflow.getHandle(d.delivery_workflow_id!).result();
    for (const e of entries) {
      expect((await getDeadLetter(h, e.id)).state).toBe('succeeded');
    }
    expect((await getDeadLetter(h, other.id)).state).toBe('pending');
    const again = await bodyOf<BulkRetryResult>(
      await h.api('/v1/webhooks/dead-letter/retry', { method: 'POST', json: { event_type: 'completed', created_since: sinceSeconds } }),
    );
    expect(again).toMatchObject({ started: 0, workflow_id: null });
    expect((await h.api('/v1/webhooks/dead-letter/retry', { method: 'POST', json: { event_type: 'nope' } })).status).toBe(400);
    await receiver.close();
  });

  it('lets an entry be retried again when an operator terminated its retry delivery', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Fails until the entry is dead-lettered, then holds every answer until released.
    const state = { holding: false };
    const receiver = await startWebhookReceiver(() => (state.holding ? { status: 200, until: gate } : { status: 500 }));
    const entry = await deadLetteredBatch(receiver.url);
    state.holding = true;
    const first = await bodyOf<DeadLetterEntry>(await retry(entry.id));
    await h.env.client.workflow.getHandle(first.delivery_workflow_id!).terminate('operator gave up');
    const second = await retry(entry.id);
    expect(second.status).toBe(202);
    const body = await bodyOf<DeadLetterEntry>(second);
    expect(body).toMatchObject({ state: 'retrying', retry_count: 2 });
    expect(body.delivery_workflow_id).toBe(`${webhookDeliveryWorkflowId(entry.batch_id!, 'completed', 1)}/retry-2`);
    release();
    expect(await retryDelivery(body)).toMatchObject({ status: 'delivered' });
    const after = await getDeadLetter(h, entry.id);
    expect(after).toMatchObject({ state: 'succeeded', retry_success: true, retry_count: 2 });
    await receiver.close();
  });
});
