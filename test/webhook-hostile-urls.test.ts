import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, getDeadLetter, listBatches, type BatchObject, type ErrorBody } from './support/api-client.js';
import { batchOutcome, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

// Production default: webhooks may not target loopback, private or link-local addresses.
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' });
});
afterAll(async () => {
  await h?.close();
});

async function create(webhookUrl: string, legacy = false) {
  const fileId = await h.upload(chatLines(1));
  const res = await h.api('/v1/batches', {
    method: 'POST',
    json: {
      input_file_id: fileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      ...(legacy ? { metadata: { webhook_url: webhookUrl } } : { webhook: { url: webhookUrl } }),
    },
  });
  // A batch when accepted, an error when refused.
  return { status: res.status, body: await bodyOf<Partial<BatchObject> & Partial<ErrorBody>>(res) };
}

describe('hostile webhook URLs', () => {
  it.each([
    'http://127.0.0.1:9/hook',
    'http://localhost:9/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://10.0.0.1/hook',
    'http://2130706433/hook',
    'http://0.0.0.0/hook',
  ])('refuses %s at creation with a 400 and creates nothing', async (url) => {
    const before = (await listBatches(h)).data.length;
    const { status, body } = await create(url);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: 'webhook.url', code: 'invalid_webhook_url', type: 'invalid_request_error' });
    expect((await listBatches(h)).data.length).toBe(before);
  });

  it('refuses a private legacy metadata.webhook_url too', async () => {
    const { status, body } = await create('http://192.168.1.10/hook', true);
    expect(status).toBe(400);
    expect(body.error!.param).toBe('metadata.webhook_url');
  });

  it('checks again at delivery time: a target that turned private is refused, not contacted, and dead-lettered', async () => {
    const receiver = await startWebhookReceiver();
    // Accepted at creation (the name does not resolve yet), as a rebinding attacker's host would be.
    const { status, body } = await create('http://rebinding-host.invalid/hook');
    expect(status).toBe(200);
    // By delivery time the target points at loopback.
    await h.pool.query('UPDATE batches SET webhook_url = $2 WHERE id = $1', [body.id, receiver.url]);
    await batchOutcome(h, body.id!);
    const result = await deliveryResult(h, body.id!, 'completed');
    expect(result).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    expect(receiver.received).toHaveLength(0);
    const entry = await getDeadLetter(h, deadLetterIdOf(result));
    expect(entry.error_message).toMatch(/127\.0\.0\.1/);
    await receiver.close();
  });
});
