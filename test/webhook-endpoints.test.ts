import { WorkflowNotFoundError } from '@temporalio/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createLogger } from '../src/shared/logger.js';
import { verifyWebhookSignature } from '../src/webhooks/verify-webhook-signature.js';
import type { WebhookDeliveryResult } from '../src/workflows/contracts.js';
import { batchWorkflowId, endpointDeliveryWorkflowId, webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { call, errorOf, getBatch, listDeadLetters, listDeliveryAttempts, type ListOf } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { ALICE_KEY, BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

// A harness per test: once an abandoned child workflow (every delivery) outlives its parent,
// the time-skipping server may stop skipping time for the rest of its life.
let h: Harness;
beforeEach(async () => {
  // Ten seconds between attempts, on the real clock while no test awaits a workflow's result: long
  // enough for a test to change an endpoint between two attempts without racing the retry.
  h = await startHarness({ WEBHOOK_RETRY_INITIAL_SECONDS: '10' });
});
afterEach(async () => {
  await h?.close();
});

interface EndpointObject {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  max_retries: number;
  timeout: number;
  created_at: number;
  updated_at: number;
  secret?: string;
}

const SECRET = 'whsec_ZW5kcG9pbnQtc2VjcmV0LWZvci1mYW4tb3V0LXRlc3Rz';

const createEndpoint = (json: Record<string, unknown>, key?: string) =>
  call<EndpointObject & { secret: string }>(h, '/v1/webhook_endpoints', { method: 'POST', json, key });

const endpointDelivery = (batchId: string, endpointId: string, event: string, seq = 1): Promise<WebhookDeliveryResult> =>
  h.env.client.workflow.getHandle(endpointDeliveryWorkflowId(batchId, endpointId, event, seq)).result();

/** Waits (polling the API) until the batch's workflow has read its plan and requests are running. */
async function untilInProgress(batchId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await getBatch(h, batchId)).status === 'in_progress') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`batch ${batchId} never reached in_progress`);
}

/** The workflow's whole history as text, to look for what must never be in it. */
async function historyText(workflowId: string): Promise<string> {
  const history = await h.env.client.workflow.getHandle(workflowId).fetchHistory();
  // Payloads are bytes (base64 in JSON): decode them so their content is searchable.
  return JSON.stringify(history, (key, value) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8');
    return value;
  });
}

describe('/v1/webhook_endpoints', () => {
  it('creates, lists, reads, changes and deletes endpoints; the secret is shown only at creation', async () => {
    const created = await createEndpoint({ url: 'http://127.0.0.1:9/a', secret: SECRET, description: 'billing', max_retries: 5, timeout: 20 });
    expect(created).toMatchObject({
      object: 'webhook_endpoint',
      url: 'http://127.0.0.1:9/a',
      events: ['completed', 'failed', 'cancelled', 'expired'],
      description: 'billing',
      enabled: true,
      max_retries: 5,
      timeout: 20,
      secret: SECRET,
    });
    expect(created.id).toMatch(/^we_[A-Za-z0-9]{24}$/);

    const generated = await createEndpoint({ url: 'http://127.0.0.1:9/b', events: ['batch.progress', 'completed', 'completed'], enabled: false });
    expect(generated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(generated).toMatchObject({ events: ['progress', 'completed'], enabled: false, description: null, max_retries: 3, timeout: 30 });

    const fetched = await call<EndpointObject>(h, `/v1/webhook_endpoints/${created.id}`);
    const { secret: _shownOnce, ...withoutSecret } = created;
    expect(fetched).toEqual(withoutSecret);

    // Newest first, with cursor pagination like the other lists.
    const page1 = await call<ListOf<EndpointObject>>(h, '/v1/webhook_endpoints?limit=1');
    expect(page1).toMatchObject({ object: 'list', first_id: generated.id, last_id: generated.id, has_more: true });
    const page2 = await call<ListOf<EndpointObject>>(h, `/v1/webhook_endpoints?limit=1&after=${generated.id}`);
    expect(page2).toMatchObject({ first_id: created.id, has_more: false });
    for (const text of [JSON.stringify(fetched), JSON.stringify(page1), JSON.stringify(page2)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(generated.secret);
      expect(text).not.toContain('"secret"');
    }

    const changed = await call<EndpointObject>(h, `/v1/webhook_endpoints/${created.id}`, {
      method: 'PATCH',
      json: { url: 'http://127.0.0.1:9/c', events: ['failed'], description: null, enabled: false, max_retries: 1, timeout: 300 },
    });
    expect(changed).toMatchObject({ id: created.id, url: 'http://127.0.0.1:9/c', events: ['failed'], description: null, enabled: false, max_retries: 1, timeout: 300 });
    expect(JSON.stringify(changed)).not.toContain(SECRET);

    expect(await call(h, `/v1/webhook_endpoints/${created.id}`, { method: 'DELETE' })).toEqual({ id: created.id, object: 'webhook_endpoint', deleted: true });
    expect((await h.api(`/v1/webhook_endpoints/${created.id}`)).status).toBe(404);
    expect((await h.api(`/v1/webhook_endpoints/${created.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('validates like batch webhooks, including the hostile-URL check', async () => {
    const refuse = async (method: string, path: string, json: unknown, param: string | null) => {
      const res = await h.api(path, { method, json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect((await errorOf(res)).param).toBe(param);
    };
    await refuse('POST', '/v1/webhook_endpoints', { url: 'http://127.0.0.1:9/a', max_retries: 0 }, 'max_retries');
    await refuse('POST', '/v1/webhook_endpoints', { url: 'http://127.0.0.1:9/a', timeout: 4 }, 'timeout');
    await refuse('POST', '/v1/webhook_endpoints', { url: 'http://127.0.0.1:9/a', events: ['in_progress'] }, 'events.0');
    await refuse('POST', '/v1/webhook_endpoints', { url: 'ftp://example.com/hook' }, 'url');
    await refuse('POST', '/v1/webhook_endpoints', { events: ['completed'] }, 'url');
    const endpoint = await createEndpoint({ url: 'http://127.0.0.1:9/a' });
    expect((await h.api(`/v1/webhook_endpoints/${endpoint.id}`, { method: 'PATCH', json: {} })).status).toBe(400);
    // The secret is set at creation only.
    await refuse('PATCH', `/v1/webhook_endpoints/${endpoint.id}`, { secret: SECRET }, null);

    const strict = createApp({
      pool: h.pool,
      temporal: h.env.client,
      config: { ...h.config, webhook: { ...h.config.webhook, allowPrivateNetworks: false } },
      log: createLogger('silent', 'test'),
    });
    for (const [method, path] of [['POST', '/v1/webhook_endpoints'], ['PATCH', `/v1/webhook_endpoints/${endpoint.id}`]] as const) {
      const res = await strict.request(path, {
        method,
        headers: { authorization: `Bearer ${ALICE_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'http://169.254.169.254/latest/meta-data' }),
      });
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatchObject({ code: 'invalid_webhook_url', param: 'url' });
    }
  });

  it("is 404 everywhere for another owner's endpoint, and lists only the owner's own", async () => {
    const alices = await createEndpoint({ url: 'http://127.0.0.1:9/alice' });
    const path = `/v1/webhook_endpoints/${alices.id}`;
    expect((await h.api(path, { key: BOB_KEY })).status).toBe(404);
    expect((await h.api(path, { method: 'PATCH', json: { enabled: false }, key: BOB_KEY })).status).toBe(404);
    expect((await h.api(path, { method: 'DELETE', key: BOB_KEY })).status).toBe(404);
    expect((await call<ListOf<EndpointObject>>(h, '/v1/webhook_endpoints', { key: BOB_KEY })).data).toEqual([]);
    expect(await call<EndpointObject>(h, path)).toMatchObject({ id: alices.id, enabled: true, url: 'http://127.0.0.1:9/alice' });
    expect((await h.api('/v1/webhook_endpoints/we_doesNotExist')).status).toBe(404);
    expect((await h.api('/v1/webhook_endpoints/not-an-id')).status).toBe(404);
  });
});

describe('fan-out of lifecycle events', () => {
  it('delivers each event to the batch webhook and every subscribed endpoint, each with its own attempts and dead-letter entry', async () => {
    const batchHook = await startWebhookReceiver();
    const goodHook = await startWebhookReceiver();
    let badUp = false;
    const badHook = await startWebhookReceiver(() => ({ status: badUp ? 204 : 500 }));
    const good = await createEndpoint({ url: goodHook.url, secret: SECRET });
    const bad = await createEndpoint({ url: badHook.url, max_retries: 2 });
    const batchSecret = 'whsec_YmF0Y2gtd2ViaG9vay1zZWNyZXQtZm9yLWZhbi1vdXQ=';
    const batch = await createBatch(h, chatLines(2), { webhook: { url: batchHook.url, secret: batchSecret } });

    expect(await batchOutcome(h, batch.id)).toBe('completed');
    expect(await deliveryResult(h, batch.id, 'completed')).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(await endpointDelivery(batch.id, good.id, 'completed')).toMatchObject({ status: 'delivered', attempts: 1 });
    const failed = await endpointDelivery(batch.id, bad.id, 'completed');
    expect(failed).toMatchObject({ status: 'dead_lettered', attempts: 2 });

    // One event, the same id and bytes everywhere, each signed with its target's own secret.
    const [toBatch, toGood] = [batchHook.received, goodHook.received].map((hits) => {
      expect(hits).toHaveLength(1);
      return hits[0]!;
    });
    expect(badHook.received).toHaveLength(2);
    const eventId = toBatch!.headers['webhook-id'];
    for (const hit of [toGood!, ...badHook.received]) {
      expect(hit.headers['webhook-id']).toBe(eventId);
      expect(hit.body).toBe(toBatch!.body);
    }
    expect(() => verifyWebhookSignature({ payload: toBatch!.body, headers: toBatch!.headers as Record<string, string>, secret: batchSecret })).not.toThrow();
    expect(() => verifyWebhookSignature({ payload: toGood!.body, headers: toGood!.headers as Record<string, string>, secret: SECRET })).not.toThrow();
    expect(() => verifyWebhookSignature({ payload: toGood!.body, headers: toGood!.headers as Record<string, string>, secret: batchSecret })).toThrow();

    // Each target has its own attempts in the batch's attempt log.
    const attempts = (await listDeliveryAttempts(h, batch.id)).data;
    const byDelivery = (id: string) => attempts.filter((a) => a.delivery_workflow_id === id).map((a) => [a.attempt, a.url, a.success]);
    expect(byDelivery(webhookDeliveryWorkflowId(batch.id, 'completed', 1))).toEqual([[1, batchHook.url, true]]);
    expect(byDelivery(endpointDeliveryWorkflowId(batch.id, good.id, 'completed', 1))).toEqual([[1, goodHook.url, true]]);
    expect(byDelivery(endpointDeliveryWorkflowId(batch.id, bad.id, 'completed', 1))).toEqual([
      [1, badHook.url, false],
      [2, badHook.url, false],
    ]);

    // Exactly one dead-letter entry, for the failing endpoint, filterable by it.
    const entries = (await listDeadLetters(h, `?batch_id=${batch.id}`)).data;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ id: deadLetterIdOf(failed), target: bad.id, webhook_url: badHook.url, event_id: eventId, attempts: 2, error_message: 'HTTP 500' });
    expect((await listDeadLetters(h, `?endpoint_id=${bad.id}`)).data.map((e) => e.id)).toEqual([entries[0]!.id]);
    expect((await listDeadLetters(h, `?endpoint_id=${good.id}`)).data).toEqual([]);
    expect((await listDeadLetters(h, `?batch_id=${batch.id}&endpoint_id=batch_webhook`)).data).toEqual([]);

    // A retry of the entry goes to the same endpoint, and nowhere else.
    badUp = true;
    const retried = await call<{ delivery_workflow_id: string }>(h, `/v1/webhooks/dead-letter/${entries[0]!.id}/retry`, { method: 'POST' }, 202);
    expect(retried.delivery_workflow_id).toBe(`${endpointDeliveryWorkflowId(batch.id, bad.id, 'completed', 1)}/retry-1`);
    expect(await h.env.client.workflow.getHandle(retried.delivery_workflow_id).result()).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(badHook.received).toHaveLength(3);
    expect(batchHook.received).toHaveLength(1);
    expect(goodHook.received).toHaveLength(1);
    expect((await listDeadLetters(h, `?endpoint_id=${bad.id}`)).data[0]).toMatchObject({ state: 'succeeded', target: bad.id });

    // No secret reaches a workflow history.
    for (const id of [
      batchWorkflowId(batch.id),
      webhookDeliveryWorkflowId(batch.id, 'completed', 1),
      endpointDeliveryWorkflowId(batch.id, good.id, 'completed', 1),
      endpointDeliveryWorkflowId(batch.id, bad.id, 'completed', 1),
      retried.delivery_workflow_id,
    ]) {
      const text = await historyText(id);
      expect(text).toContain(eventId);
      for (const secret of [SECRET, bad.secret, batchSecret]) expect(text).not.toContain(secret);
    }
    await Promise.all([batchHook.close(), goodHook.close(), badHook.close()]);
  });

  it('sends later events to an endpoint created while the batch runs, and nothing to a disabled one', async () => {
    const disabledHook = await startWebhookReceiver();
    const lateHook = await startWebhookReceiver();
    const disabled = await createEndpoint({ url: disabledHook.url, enabled: false });
    // One slow request keeps the batch in progress; it has no webhook of its own.
    const batch = await createBatch(h, chatLines(1, () => ({ echo_delay_ms: 3_000 })));
    await untilInProgress(batch.id);
    const late = await createEndpoint({ url: lateHook.url, secret: SECRET });

    expect(await batchOutcome(h, batch.id)).toBe('completed');
    expect(await endpointDelivery(batch.id, late.id, 'completed')).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(lateHook.received).toHaveLength(1);
    expect(JSON.parse(lateHook.received[0]!.body)).toMatchObject({ type: 'batch.completed', data: { id: batch.id, status: 'completed' } });
    expect(disabledHook.received).toHaveLength(0);
    await expect(endpointDelivery(batch.id, disabled.id, 'completed')).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await expect(deliveryResult(h, batch.id, 'completed')).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await Promise.all([disabledHook.close(), lateHook.close()]);
  });

  it('stops a delivery still retrying when its endpoint is disabled, dead-lettered with that reason', async () => {
    let firstHit!: () => void;
    const first = new Promise<void>((resolve) => (firstHit = resolve));
    const hook = await startWebhookReceiver(() => {
      firstHit();
      return { status: 503 };
    });
    const endpoint = await createEndpoint({ url: hook.url, max_retries: 5 });
    const batch = await createBatch(h, chatLines(1));
    await first;
    await call(h, `/v1/webhook_endpoints/${endpoint.id}`, { method: 'PATCH', json: { enabled: false } });

    const result = await endpointDelivery(batch.id, endpoint.id, 'completed');
    expect(result).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    expect(hook.received).toHaveLength(1);
    const [entry] = (await listDeadLetters(h, `?endpoint_id=${endpoint.id}`)).data;
    expect(entry).toMatchObject({ id: deadLetterIdOf(result), target: endpoint.id, attempts: 1, error_message: `stopped: the endpoint ${endpoint.id} was disabled` });
    await hook.close();
  });
});
