import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookDeliveryResult } from '../src/workflows/contracts.js';
import { endpointDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { bodyOf, call, expectError, listDeadLetters, type BulkRetryResult, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, finishedBatch } from './support/batches.js';
import { BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver.js';

// A harness per test: abandoned child deliveries can stop time-skipping (see webhook-endpoints.test.ts).
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h?.close();
});

const OPS_SECRET = 'whsec_b3BlcmF0aW9uYWwtZXZlbnRzLXNlY3JldC1mb3ItdGVzdHM=';
const OPERATIONAL_EVENTS = ['webhook.dead_lettered', 'webhook_endpoint.disabled', 'webhook_endpoint.enabled'];

interface EndpointObject {
  id: string;
  url: string;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: number | null;
  metadata: Record<string, string> | null;
  secret?: string;
}
interface EventBody {
  id: string;
  type: string;
  data: Record<string, unknown>;
}
type Recovery = BulkRetryResult & { object: string; endpoint_id: string };

const createEndpoint = (json: Record<string, unknown>, key?: string) =>
  call<EndpointObject & { secret: string }>(h, '/v1/webhook_endpoints', { method: 'POST', json, key });
const patchEndpoint = (id: string, json: Record<string, unknown>) => call<EndpointObject>(h, `/v1/webhook_endpoints/${id}`, { method: 'PATCH', json });
const getEndpoint = (id: string) => call<EndpointObject>(h, `/v1/webhook_endpoints/${id}`);
const recover = (id: string, json: unknown, key?: string) => h.api(`/v1/webhook_endpoints/${id}/recover`, { method: 'POST', json, key });
/** The result of the batch's `completed` delivery to the endpoint, once the batch (which starts it) has ended. */
async function endpointDelivery(batchId: string, endpointId: string): Promise<WebhookDeliveryResult> {
  await batchOutcome(h, batchId);
  return h.env.client.workflow.getHandle(endpointDeliveryWorkflowId(batchId, endpointId, 'completed', 1)).result();
}
const eventOf = (hit: ReceivedWebhook) => JSON.parse(hit.body) as EventBody;
const unixNow = () => Math.floor(Date.now() / 1000);

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The operational events a receiver got, in order, each verified with `secret` by the standardwebhooks library. */
function operationalEvents(received: ReceivedWebhook[], secret: string): EventBody[] {
  return received.map((hit) => {
    new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>);
    return eventOf(hit);
  });
}

async function runBatch(): Promise<string> {
  const batch = await createBatch(h, chatLines(1));
  await finishedBatch(h, batch.id);
  return batch.id;
}

describe('an endpoint disabled by a 410 Gone', () => {
  it('loses nothing: its events are kept while it is disabled, and recover delivers them in order once it is enabled', async () => {
    let gone = true;
    const hook = await startWebhookReceiver(() => ({ status: gone ? 410 : 200 }));
    const ops = await startWebhookReceiver(() => ({ status: 204 }));
    const endpoint = await createEndpoint({ url: hook.url, max_retries: 3 });
    const watcher = await createEndpoint({ url: ops.url, events: OPERATIONAL_EVENTS, secret: OPS_SECRET });
    const since = unixNow();

    // The first event meets the 410: one attempt, the endpoint is disabled, the event is kept.
    const first = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(first.id, endpoint.id)).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    expect(await getEndpoint(endpoint.id)).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/^410 Gone on /) });
    // Two more batches while it is disabled: nothing is sent to it, both events are kept, unsent.
    const later = [await runBatch(), await runBatch()];
    expect(hook.received).toHaveLength(1);

    const kept = await eventually(async () => {
      const list = await listDeadLetters(h, `?endpoint_id=${endpoint.id}`);
      return list.data.length === 3 ? list.data : undefined;
    }, 'three kept events');
    expect(kept.map((entry) => [entry.batch_id, entry.reason, entry.state, entry.attempts])).toEqual([
      [later[1], 'endpoint_disabled', 'pending', 0],
      [later[0], 'endpoint_disabled', 'pending', 0],
      [first.id, 'endpoint_disabled', 'pending', 1],
    ]);
    expect(kept[0]!.error_message).toBe(`not sent: the endpoint ${endpoint.id} is disabled`);
    const listed = await listDeadLetters(h, `?endpoint_id=${endpoint.id}&reason=endpoint_disabled`);
    expect(listed.data).toHaveLength(3);
    // No webhook.dead_lettered for kept events: the owner hears of the endpoint instead.
    const disabledNotice = await eventually(() => (ops.received.length > 0 ? ops.received : undefined), 'the disabled notice');
    expect(operationalEvents(disabledNotice, OPS_SECRET).map((e) => [e.type, e.data.id, e.data.enabled])).toEqual([
      ['webhook_endpoint.disabled', endpoint.id, false],
    ]);

    // Recovery needs the endpoint enabled.
    await expectError(await recover(endpoint.id, { since }), 409, { code: 'endpoint_disabled', param: 'id' });
    gone = false;
    expect(await patchEndpoint(endpoint.id, { enabled: true })).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
    const res = await recover(endpoint.id, { since });
    expect(res.status).toBe(202);
    const recovery = await bodyOf<Recovery>(res);
    expect(recovery).toMatchObject({ object: 'webhook_endpoint.recovery', endpoint_id: endpoint.id, started: 3, has_more: false });
    expect(recovery.workflow_id).toMatch(new RegExp(`^webhook-endpoint-recover/${endpoint.id}/bulk_`));
    // Oldest event first: the one that met the 410, then the two kept while disabled.
    expect(recovery.data.map((d) => d.id)).toEqual(kept.map((entry) => entry.id).reverse());
    await h.env.client.workflow.getHandle(recovery.workflow_id!).result();
    for (const d of recovery.data) await h.env.client.workflow.getHandle(d.delivery_workflow_id!).result();

    const redelivered = hook.received.slice(1).map(eventOf);
    expect(redelivered.map((e) => (e.data as { id: string }).id)).toEqual([first.id, ...later]);
    expect(redelivered.map((e) => e.id)).toEqual(kept.map((entry) => entry.event_id).reverse());
    const after = await listDeadLetters(h, `?endpoint_id=${endpoint.id}`);
    expect(after.data.map((entry) => entry.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Nothing left to recover; the owner heard that the endpoint was enabled again.
    expect(await bodyOf<Recovery>(await recover(endpoint.id, { since }))).toMatchObject({ started: 0, has_more: false, workflow_id: null });
    await eventually(() => (ops.received.length === 2 ? true : undefined), 'the enabled notice');
    expect(operationalEvents(ops.received, OPS_SECRET).map((e) => [e.type, e.data.id])).toEqual([
      ['webhook_endpoint.disabled', endpoint.id],
      ['webhook_endpoint.enabled', endpoint.id],
    ]);
    expect(watcher.id).not.toBe(endpoint.id);
    await hook.close();
    await ops.close();
  });

  it('recover is scoped to its owner and validated', async () => {
    const endpoint = await createEndpoint({ url: 'https://example.com/hook' });
    await expectError(await recover(endpoint.id, { since: 0 }, BOB_KEY), 404);
    await expectError(await recover(endpoint.id, {}), 400, { param: 'since' });
    await expectError(await recover(endpoint.id, { since: -1 }), 400, { param: 'since' });
    await expectError(await recover(endpoint.id, { since: 1e16 }), 400, { param: 'since' });
    await expectError(await recover(endpoint.id, { since: 100, until: 50 }), 400, { param: 'until' });
    await expectError(await recover(endpoint.id, { since: 0, extra: 1 }), 400);
    expect(await bodyOf<Recovery>(await recover(endpoint.id, { since: 0 }))).toMatchObject({ started: 0, data: [] });
  });
});

describe('an endpoint that keeps failing', () => {
  it('is disabled once every attempt failed for WEBHOOK_ENDPOINT_DISABLE_AFTER_SECONDS; a success ends the streak', async () => {
    let status = 500;
    const hook = await startWebhookReceiver(() => ({ status }));
    const endpoint = await createEndpoint({ url: hook.url, max_retries: 1 });

    // One failure starts the streak; the event is dead-lettered as a failed delivery.
    const first = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(first.id, endpoint.id)).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    const failing = await getEndpoint(endpoint.id);
    expect(failing).toMatchObject({ enabled: true, failing_since: expect.any(Number) });
    // A success ends it.
    status = 200;
    const second = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(second.id, endpoint.id)).toMatchObject({ status: 'delivered' });
    expect((await getEndpoint(endpoint.id)).failing_since).toBeNull();

    // Failing again, and (as if) since six days: the next failure disables it, and its event is kept.
    status = 500;
    const third = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(third.id, endpoint.id)).toMatchObject({ status: 'dead_lettered' });
    await h.pool.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1`, [endpoint.id]);
    const fourth = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(fourth.id, endpoint.id)).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    const disabled = await getEndpoint(endpoint.id);
    expect(disabled.enabled).toBe(false);
    expect(disabled.disabled_reason).toMatch(/^every attempt failed since \d{4}-\d\d-\d\dT/);
    const entries = await listDeadLetters(h, `?endpoint_id=${endpoint.id}`);
    expect(entries.data.map((entry) => [entry.batch_id, entry.reason])).toEqual([
      [fourth.id, 'endpoint_disabled'],
      [third.id, 'delivery_failed'],
      [first.id, 'delivery_failed'],
    ]);
    await hook.close();
  });
});

describe('operational events', () => {
  it('webhook.dead_lettered reaches subscribed endpoints signed; a failed notice is dead-lettered without notifying about itself', async () => {
    const failing = await startWebhookReceiver(() => ({ status: 500 }));
    let opsStatus = 204;
    const ops = await startWebhookReceiver(() => ({ status: opsStatus }));
    const endpoint = await createEndpoint({ url: failing.url, max_retries: 1 });
    const watcher = await createEndpoint({ url: ops.url, events: ['webhook.dead_lettered'], secret: OPS_SECRET, max_retries: 1 });
    // Subscribed to lifecycle events only: hears nothing operational.
    const quiet = await startWebhookReceiver(() => ({ status: 204 }));
    await createEndpoint({ url: quiet.url, events: ['completed'] });

    const batch = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(batch.id, endpoint.id)).toMatchObject({ status: 'dead_lettered' });
    const [entry] = (await listDeadLetters(h, `?endpoint_id=${endpoint.id}`)).data as [DeadLetterEntry];
    await eventually(() => (ops.received.length === 1 ? true : undefined), 'the dead-lettered notice');
    const [notice] = operationalEvents(ops.received, OPS_SECRET);
    expect(notice).toMatchObject({ type: 'webhook.dead_lettered', data: { id: entry.id, object: 'webhook_dead_letter', batch_id: batch.id, target: endpoint.id, reason: 'delivery_failed' } });
    expect(ops.received[0]!.headers['webhook-id']).toBe(notice!.id);

    // The watcher now fails too: its notice about the second entry is dead-lettered, and nobody is told about that.
    opsStatus = 500;
    const next = await createBatch(h, chatLines(1));
    expect(await endpointDelivery(next.id, endpoint.id)).toMatchObject({ status: 'dead_lettered' });
    const ofWatcher = await eventually(async () => {
      const list = await listDeadLetters(h, `?endpoint_id=${watcher.id}`);
      return list.data.length > 0 ? list.data : undefined;
    }, "the watcher's dead-letter entry");
    expect(ofWatcher.map((e) => [e.event_type, e.batch_id, e.reason])).toEqual([['webhook.dead_lettered', null, 'delivery_failed']]);
    expect(await listDeadLetters(h, '?event_type=webhook.dead_lettered')).toMatchObject({ data: [{ id: ofWatcher[0]!.id }] });
    // Settle, then count: one notice each for the two batch entries, none for the watcher's own.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(ops.received.map(eventOf).map((e) => (e.data as { id: number }).id)).toEqual([entry.id, expect.any(Number)]);
    expect(ops.received.map(eventOf).every((e) => (e.data as { id: number }).id !== ofWatcher[0]!.id)).toBe(true);
    expect(quiet.received.map(eventOf).map((e) => e.type)).toEqual(['batch.completed', 'batch.completed']);
    await failing.close();
    await ops.close();
    await quiet.close();
  });

  it('an endpoint subscribes to operational events by their full names only', async () => {
    const ok = await createEndpoint({ url: 'https://example.com/a', events: ['batch.completed', 'webhook.dead_lettered', 'webhook_endpoint.enabled'] });
    expect(ok).toMatchObject({ events: ['completed', 'webhook.dead_lettered', 'webhook_endpoint.enabled'] });
    const bad = await h.api('/v1/webhook_endpoints', { method: 'POST', json: { url: 'https://example.com/b', events: ['batch.webhook.dead_lettered'] } });
    await expectError(bad, 400, { param: 'events.0' });
  });
});

describe('endpoint metadata', () => {
  it('is kept as given, replaced or cleared by PATCH, and validated like a batch', async () => {
    const endpoint = await createEndpoint({ url: 'https://example.com/hook', metadata: { team: 'billing' } });
    expect(endpoint.metadata).toEqual({ team: 'billing' });
    expect(await patchEndpoint(endpoint.id, { metadata: { team: 'ops', tier: 'gold' } })).toMatchObject({ metadata: { team: 'ops', tier: 'gold' } });
    expect(await patchEndpoint(endpoint.id, { description: 'kept' })).toMatchObject({ metadata: { team: 'ops', tier: 'gold' } });
    expect(await patchEndpoint(endpoint.id, { metadata: null })).toMatchObject({ metadata: null });
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    await expectError(await h.api(`/v1/webhook_endpoints/${endpoint.id}`, { method: 'PATCH', json: { metadata: tooMany } }), 400, { param: 'metadata' });
    await expectError(await h.api('/v1/webhook_endpoints', { method: 'POST', json: { url: 'https://example.com/x', metadata: { k: 'v'.repeat(513) } } }), 400);
  });
});
