import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/api/openapi/openapi-document.js';
import { bodyOf, type BatchObject, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { createContractChecker } from './support/openapi-contract.js';
import type { RecordedResponse } from './support/response-recorder.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

/**
 * The API answers as its OpenAPI document says: this file makes a call of
 * every operation (and the errors 400, 401, 404, 405, 409 and 413) through
 * the harness, which records each answer (OPENAPI_CONTRACT_LOG); the last
 * test checks every recorded status, media type and body against the document.
 */

let h: Harness;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const receiverUp = { value: true };
const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-contract-'));
const log = path.join(dir, 'responses.jsonl');
const previousLog = process.env.OPENAPI_CONTRACT_LOG;

beforeAll(async () => {
  process.env.OPENAPI_CONTRACT_LOG = log;
  receiver = await startWebhookReceiver(() => ({ status: receiverUp.value ? 204 : 500 }));
  h = await startHarness();
});
afterAll(async () => {
  if (previousLog === undefined) delete process.env.OPENAPI_CONTRACT_LOG;
  else process.env.OPENAPI_CONTRACT_LOG = previousLog;
  await h?.close();
  await receiver?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** JSON bodies the API took: the document must take each too. */
const accepted: { method: string; path: string; body: unknown }[] = [];

const status = async (p: string, init: Parameters<Harness['api']>[1], expected: number) => {
  const res = await h.api(p, init);
  if (init?.json !== undefined && res.status < 300) accepted.push({ method: init.method ?? 'GET', path: p, body: init.json });
  expect(res.status, `${init?.method ?? 'GET'} ${p}: ${await res.clone().text()}`).toBe(expected);
  return res;
};

describe('calls of every operation', () => {
  it('files', async () => {
    const fileId = await h.upload(chatLines(1));
    const other = await h.upload(chatLines(1));
    const form = new FormData();
    form.set('purpose', 'fine-tune');
    form.set('file', new Blob(['{}']), 'x.jsonl');
    await status('/v1/files', { method: 'POST', body: form }, 400);
    await status('/v1/files?limit=2', {}, 200);
    await status('/v1/files?order=sideways', {}, 400);
    await status(`/v1/files/${fileId}`, {}, 200);
    expect((await status(`/v1/files/${fileId}/content`, {}, 200)).headers.get('content-type')).toBe('application/octet-stream');
    await status(`/v1/files/${other}`, { method: 'DELETE' }, 200);
    await status(`/v1/files/${other}`, {}, 404);
  });

  it('batches and their webhooks', async () => {
    const inputFileId = await h.upload(chatLines(2));
    const body = { input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', webhook: { url: receiver.url, events: ['completed'] } };
    const headers = { 'idempotency-key': `contract-${Date.now()}` };
    const batch = await bodyOf<BatchObject>(await status('/v1/batches', { method: 'POST', json: body, headers }, 200));
    await status('/v1/batches', { method: 'POST', json: body, headers }, 200);
    await status('/v1/batches', { method: 'POST', json: { ...body, metadata: { other: 'body' } }, headers }, 409);
    await status('/v1/batches', { method: 'POST', json: { ...body, completion_window: '48h' } }, 400);
    await status('/v1/batches', { method: 'POST', json: { ...body, metadata: { big: 'x'.repeat(2 * 1024 * 1024) } } }, 413);
    await batchOutcome(h, batch.id);
    await deliveryResult(h, batch.id, 'completed');

    await status(`/v1/batches/${batch.id}`, {}, 200);
    await status('/v1/batches?limit=2', {}, 200);
    await status(`/v1/batches/${batch.id}/cancel`, { method: 'POST' }, 409);
    await status(`/v1/batches/${batch.id}/webhook`, { method: 'PATCH', json: { timeout: 10 } }, 200);
    await status(`/v1/batches/${batch.id}/webhook/rotate_secret`, { method: 'POST' }, 200);
    await status(`/v1/batches/${batch.id}/webhook_deliveries`, {}, 200);
    await status('/v1/batches/batch_none', {}, 404);
    await status(`/v1/batches/${batch.id}/retry_failed`, { method: 'POST' }, 409);

    // A request the echo upstream fails on every attempt: worth retrying.
    const failing = JSON.stringify({
      custom_id: 'fails',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'echo', messages: [{ role: 'user', content: `contract ${Math.random()}` }], echo_fail_first: 100 },
    });
    const failed = await createBatch(h, failing);
    await batchOutcome(h, failed.id);
    await status(`/v1/batches/${failed.id}/retry_failed`, { method: 'POST', json: {} }, 200);

    // A batch without a webhook, cancelled before a worker picks it up.
    await h.stopWorker();
    try {
      const plain = await createBatch(h, chatLines(1));
      await status(`/v1/batches/${plain.id}/webhook`, { method: 'PATCH', json: { timeout: 10 } }, 409);
      await status(`/v1/batches/${plain.id}/webhook/rotate_secret`, { method: 'POST', json: {} }, 409);
      await status(`/v1/batches/${plain.id}/cancel`, { method: 'POST' }, 200);
    } finally {
      await h.startWorker();
    }
  });

  it('webhook endpoints', async () => {
    const endpoint = { url: receiver.url, events: ['batch.completed', 'webhook.dead_lettered'], description: 'contract', metadata: { team: 'a' } };
    const { id } = await bodyOf<{ id: string }>(await status('/v1/webhook_endpoints', { method: 'POST', json: endpoint }, 200));
    await status('/v1/webhook_endpoints', { method: 'POST', json: { url: receiver.url, surprise: true } }, 400);
    await status('/v1/webhook_endpoints?limit=5', {}, 200);
    await status(`/v1/webhook_endpoints/${id}`, {}, 200);
    await status(`/v1/webhook_endpoints/${id}`, { method: 'PATCH', json: { description: 'changed', metadata: { team: 'a' } } }, 200);
    await status(`/v1/webhook_endpoints/${id}`, { method: 'PATCH', json: {} }, 400);
    await status(`/v1/webhook_endpoints/${id}/rotate_secret`, { method: 'POST' }, 200);
    await status(`/v1/webhook_endpoints/${id}/test`, { method: 'POST' }, 200);
    await status(`/v1/webhook_endpoints/${id}/recover`, { method: 'POST', json: { since: 0 } }, 202);
    await status(`/v1/webhook_endpoints/${id}`, { method: 'PATCH', json: { enabled: false } }, 200);
    await status(`/v1/webhook_endpoints/${id}/recover`, { method: 'POST', json: { since: 0 } }, 409);
    await status(`/v1/webhook_endpoints/${id}`, { method: 'DELETE' }, 200);
    await status(`/v1/webhook_endpoints/${id}`, {}, 404);
    await status('/v1/webhook_endpoints/not-an-id', {}, 404);
  });

  it('the dead-letter queue', async () => {
    receiverUp.value = false;
    const batch = await createBatch(h, chatLines(1), { webhook: { url: receiver.url, max_retries: 1, events: ['completed'] } });
    await batchOutcome(h, batch.id);
    const entryId = deadLetterIdOf(await deliveryResult(h, batch.id, 'completed'));
    receiverUp.value = true;

    await status('/v1/webhooks/dead-letter?limit=5', {}, 200);
    await status('/v1/webhooks/dead-letter?state=bogus', {}, 400);
    await status(`/v1/webhooks/dead-letter/${entryId}`, {}, 200);
    const retried = await bodyOf<DeadLetterEntry>(await status(`/v1/webhooks/dead-letter/${entryId}/retry`, { method: 'POST' }, 202));
    await h.env.client.workflow.getHandle(retried.delivery_workflow_id!).result();
    await status(`/v1/webhooks/dead-letter/${entryId}/retry`, { method: 'POST' }, 409);
    await status('/v1/webhooks/dead-letter/retry', { method: 'POST', json: { batch_id: batch.id } }, 202);
    await status(`/v1/webhooks/dead-letter/${entryId}`, { method: 'DELETE' }, 200);
    await status(`/v1/webhooks/dead-letter/${entryId}`, {}, 404);
    await status('/v1/webhooks/dead-letter/abc/retry', { method: 'POST' }, 404);
  });

  it('the service routes and the errors of no route', async () => {
    await status('/health', {}, 200);
    const ready = await h.api('/ready');
    expect([200, 503]).toContain(ready.status);
    await status('/openapi.json', {}, 200);
    await status('/v1/batches', { key: 'sk-not-a-key' }, 401);
    await status('/v1/batches', { method: 'PUT' }, 405);
    await status('/v1/files/file-x', { method: 'PATCH' }, 405);
    await status('/v1/nothing-here', {}, 404);
  });
});

describe('every answer above', () => {
  it('is as the OpenAPI document says', () => {
    const recorded = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RecordedResponse);
    const check = createContractChecker();
    expect(recorded.flatMap(check)).toEqual([]);
    expect(accepted.length).toBeGreaterThan(5);
    expect(accepted.flatMap(({ method, path, body }) => check.request(method, path, body))).toEqual([]);

    // Every operation was called with success (but /metrics, which the harness's app does not serve) …
    const doc = openApiDocument();
    const succeeded = new Set(recorded.filter((r) => r.status < 300).map((r) => `${r.method} ${r.path}`));
    const templates = Object.entries(doc.paths ?? {}).flatMap(([template, item]) =>
      Object.keys(item as object).map((method) => ({ method: method.toUpperCase(), template })),
    );
    const pattern = (template: string) => new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
    const uncalled = templates.filter(
      ({ method, template }) => template !== '/metrics' && ![...succeeded].some((call) => call.startsWith(`${method} `) && pattern(template).test(call.slice(method.length + 1))),
    );
    expect(uncalled).toEqual([]);
    // … and every kind of error the API answers was met.
    const statuses = new Set(recorded.map((r) => r.status));
    for (const s of [400, 401, 404, 405, 409, 413]) expect(statuses, `status ${s}`).toContain(s);
  });
});
