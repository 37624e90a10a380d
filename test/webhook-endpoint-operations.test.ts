import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../src/webhooks/verify-webhook-signature.js';
import type { WebhookDeliveryResult } from '../src/workflows/contracts.js';
import { endpointDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { bodyOf, call, errorOf, listDeadLetters, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf } from './support/batches.js';
import { BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver.js';

// A harness per test, as in webhook-endpoints.test.ts: abandoned child deliveries can stop time-skipping.
let h: Harness;
beforeEach(async () => {
  // Ten seconds between attempts, on the real clock while no test awaits a workflow's result.
  h = await startHarness({ WEBHOOK_RETRY_INITIAL_SECONDS: '10' });
});
afterEach(async () => {
  await h?.close();
});

const OLD_SECRET = 'whsec_b2xkLWVuZHBvaW50LXNlY3JldC1mb3Itcm90YXRpb24=';
const NEW_SECRET = 'whsec_bmV3LWVuZHBvaW50LXNlY3JldC1mb3Itcm90YXRpb24=';

interface EndpointObject {
  id: string;
  url: string;
  enabled: boolean;
  disabled_reason?: string | null;
  secret?: string;
}
type Rotated = EndpointObject & { secret: string; previous_secret_expires_at: number };

const createEndpoint = (json: Record<string, unknown>) => call<EndpointObject & { secret: string }>(h, '/v1/webhook_endpoints', { method: 'POST', json });
const rotate = (id: string, json?: unknown, key?: string) => h.api(`/v1/webhook_endpoints/${id}/rotate_secret`, { method: 'POST', json, key });
const endpointDelivery = (batchId: string, endpointId: string, event = 'completed'): Promise<WebhookDeliveryResult> =>
  h.env.client.workflow.getHandle(endpointDeliveryWorkflowId(batchId, endpointId, event, 1)).result();

/** Whether the delivery verifies with `secret`: our verifier on each header, and the standardwebhooks library. */
function verifies(hit: ReceivedWebhook, secret: string): boolean[] {
  const headers = hit.headers as Record<string, string>;
  const { 'webhook-signature': _standard, ...seedOnly } = headers;
  const attempt = (verify: () => unknown) => {
    try {
      verify();
      return true;
    } catch {
      return false;
    }
  };
  return [
    attempt(() => verifyWebhookSignature({ payload: hit.body, headers, secret })),
    attempt(() => verifyWebhookSignature({ payload: hit.body, headers: seedOnly, secret })),
    attempt(() => new Webhook(secret).verify(hit.body, headers)),
  ];
}

async function retryDeadLetter(id: number): Promise<WebhookDeliveryResult> {
  const res = await h.api(`/v1/webhooks/dead-letter/${id}/retry`, { method: 'POST' });
  expect(res.status).toBe(202);
  return h.env.client.workflow.getHandle((await bodyOf<DeadLetterEntry>(res)).delivery_workflow_id!).result();
}

describe('POST /v1/webhook_endpoints/{id}/rotate_secret', () => {
  it('signs with the new and the old secret during the overlap, then with the new one only', async () => {
    let up = false;
    let firstHit!: (hit: ReceivedWebhook) => void;
    const first = new Promise<ReceivedWebhook>((resolve) => (firstHit = resolve));
    const hook = await startWebhookReceiver((n, hit) => {
      if (n === 1) firstHit(hit);
      return { status: up ? 200 : 500 };
    });
    const endpoint = await createEndpoint({ url: hook.url, secret: OLD_SECRET, max_retries: 2 });
    const batch = await createBatch(h, chatLines(1));
    expect(verifies(await first, OLD_SECRET)).toEqual([true, true, true]);

    const res = await rotate(endpoint.id);
    expect(res.status).toBe(200);
    const rotated = await bodyOf<Rotated>(res);
    expect(rotated).toMatchObject({ id: endpoint.id, object: 'webhook_endpoint', url: hook.url, enabled: true });
    const fresh = rotated.secret;
    expect(fresh).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const overlap = rotated.previous_secret_expires_at - Math.floor(Date.now() / 1000);
    expect(overlap).toBeGreaterThan(86_400 - 60);
    expect(overlap).toBeLessThanOrEqual(86_400);

    // The next attempt of the delivery under way carries both signatures, the new one first.
    const result = await endpointDelivery(batch.id, endpoint.id);
    expect(result).toMatchObject({ status: 'dead_lettered', attempts: 2 });
    const second = hook.received[1]!;
    expect(second.headers['webhook-id']).toBe(hook.received[0]!.headers['webhook-id']);
    expect(String(second.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(second, fresh)).toEqual([true, true, true]);
    expect(verifies(second, OLD_SECRET)).toEqual([true, true, true]);
    expect(verifies(second, NEW_SECRET)).toEqual([false, false, false]);
    // Shown once: not in the endpoint, the list, nor the dead-letter queue.
    for (const path of [`/v1/webhook_endpoints/${endpoint.id}`, '/v1/webhook_endpoints', '/v1/webhooks/dead-letter']) {
      expect(await (await h.api(path)).text()).not.toContain(fresh);
    }

    // A chosen secret, then the overlap ends (as it would after WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS).
    expect((await bodyOf<Rotated>(await rotate(endpoint.id, { secret: NEW_SECRET }))).secret).toBe(NEW_SECRET);
    await h.pool.query(`UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1::text`, [endpoint.id]);
    up = true;
    expect(await retryDeadLetter(deadLetterIdOf(result))).toMatchObject({ status: 'delivered' });
    const last = hook.received[2]!;
    expect(verifies(last, NEW_SECRET)).toEqual([true, true, true]);
    expect(verifies(last, fresh)).toEqual([false, false, false]);
    expect(verifies(last, OLD_SECRET)).toEqual([false, false, false]);
    await hook.close();
  });

  it("validates its optional body and is 404 for another owner's or an unknown endpoint", async () => {
    const endpoint = await createEndpoint({ url: 'http://127.0.0.1:9/hook' });
    expect((await rotate(endpoint.id, { secret: '' })).status).toBe(400);
    expect((await rotate(endpoint.id, { secret: 'x'.repeat(129) })).status).toBe(400);
    expect((await rotate(endpoint.id, { other: 1 })).status).toBe(400);
    const res = await rotate(endpoint.id, undefined, BOB_KEY);
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ code: 'not_found' });
    expect((await rotate('we_unknown')).status).toBe(404);
    expect((await rotate('not-an-id')).status).toBe(404);
    // Bob's attempt changed nothing: the secret is still the one from creation.
    const { rows } = await h.pool.query(`SELECT secret = $2::text AS same FROM webhook_endpoints WHERE id = $1::text`, [endpoint.id, endpoint.secret]);
    expect(rows[0].same).toBe(true);
  });
});

describe('an endpoint that answers 410 Gone', () => {
  it('is disabled with the reason, its event dead-lettered; enabled again, the entry can be retried', async () => {
    let gone = true;
    const hook = await startWebhookReceiver(() => ({ status: gone ? 410 : 204 }));
    const endpoint = await createEndpoint({ url: hook.url, max_retries: 5 });
    const batch = await createBatch(h, chatLines(1));
    expect(await batchOutcome(h, batch.id)).toBe('completed');

    const result = await endpointDelivery(batch.id, endpoint.id);
    expect(result).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    expect(hook.received).toHaveLength(1);
    const [entry] = (await listDeadLetters(h, `?endpoint_id=${endpoint.id}`)).data;
    expect(entry).toMatchObject({ id: deadLetterIdOf(result), target: endpoint.id, attempts: 1, error_message: 'HTTP 410 Gone: the receiver asked for no more deliveries' });

    const disabled = await call<EndpointObject>(h, `/v1/webhook_endpoints/${endpoint.id}`);
    expect(disabled.enabled).toBe(false);
    expect(disabled.disabled_reason).toMatch(/^410 Gone on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Disabled: a later batch sends it nothing.
    expect(await batchOutcome(h, (await createBatch(h, chatLines(1))).id)).toBe('completed');
    expect(hook.received).toHaveLength(1);

    // Enabled again by its owner: the reason goes, and the dead-lettered event can be sent.
    gone = false;
    const enabled = await call<EndpointObject>(h, `/v1/webhook_endpoints/${endpoint.id}`, { method: 'PATCH', json: { enabled: true } });
    expect(enabled).toMatchObject({ enabled: true, disabled_reason: null });
    expect(await retryDeadLetter(entry!.id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hook.received).toHaveLength(2);
    expect(hook.received[1]!.headers['webhook-id']).toBe(hook.received[0]!.headers['webhook-id']);
    // Disabled by its owner: no reason.
    expect(await call<EndpointObject>(h, `/v1/webhook_endpoints/${endpoint.id}`, { method: 'PATCH', json: { enabled: false } })).toMatchObject({ enabled: false, disabled_reason: null });
    await hook.close();
  });
});

describe('POST /v1/webhook_endpoints/{id}/test', () => {
  interface TestAnswer {
    object: string;
    endpoint_id: string;
    event_id: string;
    delivery_id: string;
    status: string;
    status_code: number | null;
    error: string | null;
  }
  const sendTest = (id: string, key?: string) => h.api(`/v1/webhook_endpoints/${id}/test`, { method: 'POST', key });

  it('sends a signed webhook.test event once, logs the attempt, and answers with the outcome', async () => {
    let up = true;
    const hook = await startWebhookReceiver(() => ({ status: up ? 200 : 500 }));
    const endpoint = await createEndpoint({ url: hook.url, secret: OLD_SECRET });

    const ok = await bodyOf<TestAnswer>(await sendTest(endpoint.id));
    expect(ok).toMatchObject({ object: 'webhook_endpoint.test', endpoint_id: endpoint.id, status: 'delivered', status_code: 200, error: null });
    expect(hook.received).toHaveLength(1);
    const hit = hook.received[0]!;
    expect(hit.headers['webhook-id']).toBe(ok.event_id);
    expect(JSON.parse(hit.body)).toMatchObject({ id: ok.event_id, object: 'event', type: 'webhook.test', data: { endpoint_id: endpoint.id } });
    expect(verifies(hit, OLD_SECRET)).toEqual([true, true, true]);
    const { rows } = await h.pool.query(`SELECT attempt, url, success, status_code FROM webhook_delivery_attempts WHERE delivery_id = $1::text`, [ok.delivery_id]);
    expect(rows).toEqual([{ attempt: 1, url: hook.url, success: true, status_code: 200 }]);

    // A failure is answered, not retried, and never dead-lettered.
    up = false;
    expect(await bodyOf<TestAnswer>(await sendTest(endpoint.id))).toMatchObject({ status: 'failed', status_code: 500, error: 'HTTP 500' });
    expect(hook.received).toHaveLength(2);
    expect((await listDeadLetters(h)).data).toEqual([]);

    // Disabled: nothing is sent.
    await call(h, `/v1/webhook_endpoints/${endpoint.id}`, { method: 'PATCH', json: { enabled: false } });
    expect(await bodyOf<TestAnswer>(await sendTest(endpoint.id))).toMatchObject({ status: 'not_sent', status_code: null });
    expect(hook.received).toHaveLength(2);
    await hook.close();
  });

  it("is 404 for another owner's or an unknown endpoint", async () => {
    const endpoint = await createEndpoint({ url: 'http://127.0.0.1:9/hook' });
    expect((await sendTest(endpoint.id, BOB_KEY)).status).toBe(404);
    expect((await sendTest('we_unknown')).status).toBe(404);
    expect((await sendTest('not-an-id')).status).toBe(404);
  });
});
