import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  const fileId = await h.upload(opts.lines ?? chatLines(2));
  const res = await h.api('/v1/batches', {
    method: 'POST',
    json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', webhook: { url, max_retries: 2, events: opts.events } },
  });
  const batch = (await res.json()) as any;
  const outcome = await h.env.client.workflow.getHandle(`batch-${batch.id}`).result();
  const event = outcome === 'failed' ? 'failed' : 'completed';
  const result = (await h.env.client.workflow.getHandle(`batch-${batch.id}/webhook/${event}-1`).result()) as any;
  expect(result.status).toBe('dead_lettered');
  return (await (await h.api(`/v1/webhooks/dead-letter/${result.deadLetterId}`)).json()) as any;
}

const retry = (id: number, key?: string) => h.api(`/v1/webhooks/dead-letter/${id}/retry`, { method: 'POST', key });

describe('dead-letter queue API', () => {
  it('lists entries newest first with cursor pagination and filters', async () => {
    const receiver = await flakyReceiver();
    const a = await deadLetteredBatch(receiver.url);
    const b = await deadLetteredBatch(receiver.url, { lines: '{oops' });
    const c = await deadLetteredBatch(receiver.url);
    expect(a).toMatchObject({ object: 'webhook_dead_letter', state: 'pending', attempts: 2, retry_success: null, retried_at: null });
    expect(a.payload).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: a.batch_id } });

    const page1 = (await (await h.api('/v1/webhooks/dead-letter?limit=2')).json()) as any;
    expect(page1).toMatchObject({ object: 'list', has_more: true });
    expect(page1.data.map((e: any) => e.id)).toEqual([c.id, b.id]);
    const page2 = (await (await h.api(`/v1/webhooks/dead-letter?limit=2&after=${page1.last_id}`)).json()) as any;
    expect(page2.data[0].id).toBe(a.id);

    const failedOnly = (await (await h.api('/v1/webhooks/dead-letter?event_type=batch.failed')).json()) as any;
    expect(failedOnly.data.map((e: any) => e.id)).toContain(b.id);
    expect(failedOnly.data.every((e: any) => e.event_type === 'batch.failed')).toBe(true);
    const byBatch = (await (await h.api(`/v1/webhooks/dead-letter?batch_id=${c.batch_id}`)).json()) as any;
    expect(byBatch.data.map((e: any) => e.id)).toEqual([c.id]);
    expect((await h.api('/v1/webhooks/dead-letter?state=bogus')).status).toBe(400);
    expect((await h.api('/v1/webhooks/dead-letter?limit=0')).status).toBe(400);

    // Another owner sees none of it.
    const bob = (await (await h.api('/v1/webhooks/dead-letter', { key: BOB_KEY })).json()) as any;
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
    const started = (await res.json()) as any;
    expect(started).toMatchObject({ id: entry.id, state: 'retrying', retry_count: 1 });
    expect(started.retried_at).toEqual(expect.any(Number));
    expect(started.delivery_workflow_id).toBe(`batch-${entry.batch_id}/webhook/completed-1/retry-1`);
    expect(await h.env.client.workflow.getHandle(started.delivery_workflow_id).result()).toMatchObject({ status: 'delivered' });

    const after = (await (await h.api(`/v1/webhooks/dead-letter/${entry.id}`)).json()) as any;
    expect(after).toMatchObject({ state: 'succeeded', retry_success: true });
    const redelivered = receiver.received[receiver.received.length - 1]!;
    expect(redelivered.body).toBe(originalBody);
    expect(redelivered.headers['webhook-id']).toBe(entry.event_id);
    const succeeded = (await (await h.api('/v1/webhooks/dead-letter?state=succeeded')).json()) as any;
    expect(succeeded.data.map((e: any) => e.id)).toContain(entry.id);
    expect((await retry(entry.id)).status).toBe(409);
    await receiver.close();
  });

  it('records a failed manual retry on the same entry', async () => {
    const receiver = await flakyReceiver();
    const entry = await deadLetteredBatch(receiver.url);
    const started = (await (await retry(entry.id)).json()) as any;
    expect(await h.env.client.workflow.getHandle(started.delivery_workflow_id).result()).toMatchObject({ status: 'dead_lettered', deadLetterId: entry.id });
    const after = (await (await h.api(`/v1/webhooks/dead-letter/${entry.id}`)).json()) as any;
    expect(after).toMatchObject({ id: entry.id, state: 'failed', retry_success: false, attempts: 2, error_message: 'HTTP 500' });
    const all = (await (await h.api(`/v1/webhooks/dead-letter?batch_id=${entry.batch_id}`)).json()) as any;
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
    const bodies = [(await first.json()) as any, (await second.json()) as any];
    expect(bodies[0].delivery_workflow_id).toBe(bodies[1].delivery_workflow_id);
    await h.env.client.workflow.getHandle(bodies[0].delivery_workflow_id).result();
    expect(receiver.received.length - before).toBe(1);
    const after = (await (await h.api(`/v1/webhooks/dead-letter/${entry.id}`)).json()) as any;
    expect(after.retry_count).toBe(1);
    await receiver.close();
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
      expect(((await r.json()) as any).error).toMatchObject({ code: 'not_found', type: 'invalid_request_error' });
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
    const bulk = (await res.json()) as any;
    expect(bulk).toMatchObject({ object: 'webhook_dead_letter.bulk_retry', started: 2, has_more: false });
    expect(bulk.data.map((d: any) => d.id).sort()).toEqual(entries.map((e) => e.id).sort());
    expect(await h.env.client.workflow.getHandle(bulk.workflow_id).result()).toEqual({ started: 2 });
    for (const d of bulk.data) await h.env.client.workflow.getHandle(d.delivery_workflow_id).result();
    for (const e of entries) {
      expect(((await (await h.api(`/v1/webhooks/dead-letter/${e.id}`)).json()) as any).state).toBe('succeeded');
    }
    expect(((await (await h.api(`/v1/webhooks/dead-letter/${other.id}`)).json()) as any).state).toBe('pending');
    const again = (await (await h.api('/v1/webhooks/dead-letter/retry', { method: 'POST', json: { event_type: 'completed', created_since: sinceSeconds } })).json()) as any;
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
    const first = (await (await retry(entry.id)).json()) as any;
    await h.env.client.workflow.getHandle(first.delivery_workflow_id).terminate('operator gave up');
    const second = await retry(entry.id);
    expect(second.status).toBe(202);
    const body = (await second.json()) as any;
    expect(body).toMatchObject({ state: 'retrying', retry_count: 2 });
    expect(body.delivery_workflow_id).toBe(`batch-${entry.batch_id}/webhook/completed-1/retry-2`);
    release();
    expect(await h.env.client.workflow.getHandle(body.delivery_workflow_id).result()).toMatchObject({ status: 'delivered' });
    const after = (await (await h.api(`/v1/webhooks/dead-letter/${entry.id}`)).json()) as any;
    expect(after).toMatchObject({ state: 'succeeded', retry_success: true, retry_count: 2 });
    await receiver.close();
  });
});
