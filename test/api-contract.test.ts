import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, type BatchObject, type FileObject, type ListOf, expectError } from './support/api-client.js';
import { batchOutcome, deliveryResult } from './support/batches.js';
import { ALICE_KEY, BOB_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function listBatchIds(key?: string) {
  const res = await h.api('/v1/batches?limit=100', { key });
  expect(res.status).toBe(200);
  return (await bodyOf<ListOf<BatchObject>>(res)).data.map((b) => b.id);
}

async function listFileIds(key?: string) {
  const res = await h.api('/v1/files', { key });
  expect(res.status).toBe(200);
  return (await bodyOf<ListOf<FileObject>>(res)).data.map((f) => f.id);
}

function uploadForm(fields: { purpose?: string; content?: string | Uint8Array; filename?: string; fileField?: string; fileFirst?: boolean }) {
  const form = new FormData();
  const addFile = () => {
    if (fields.content !== undefined) form.append(fields.fileField ?? 'file', new Blob([fields.content]), fields.filename ?? 'in.jsonl');
  };
  if (fields.fileFirst) addFile();
  if (fields.purpose !== undefined) form.append('purpose', fields.purpose);
  if (!fields.fileFirst) addFile();
  return form;
}

const postFile = (form: FormData, key?: string) => h.api('/v1/files', { method: 'POST', body: form, key });

describe('authentication', () => {
  it('answers 401 in the OpenAI shape without a key, with a wrong key or a non-bearer scheme', async () => {
    for (const path of ['/v1/batches', '/v1/files', '/v1/files/file-x/content', '/v1/batches/batch_x']) {
      await expectError(await h.app.request(path), 401, { code: 'missing_api_key' });
      await expectError(await h.app.request(path, { headers: { authorization: `Basic ${ALICE_KEY}` } }), 401, { code: 'missing_api_key' });
      await expectError(await h.api(path, { key: 'sk-not-a-real-key' }), 401, { code: 'invalid_api_key' });
    }
    await expectError(await h.api('/v1/batches', { method: 'POST', key: 'sk-wrong-key', json: {} }), 401, { code: 'invalid_api_key' });
  });
});

describe('creating a batch with invalid input', () => {
  let fileId: string;
  beforeAll(async () => {
    fileId = await h.upload(chatLines(1));
  });
  const valid = () => ({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const create = (body: unknown) => h.api('/v1/batches', { method: 'POST', json: body });

  it('rejects a body that is not JSON, or not an object', async () => {
    const before = await listBatchIds();
    const raw = (body: string) => h.api('/v1/batches', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await expectError(await raw('{"input_file_id": "file-1",'), 400, { code: 'invalid_json' });
    await expectError(await raw(''), 400, { code: 'invalid_json' });
    await expectError(await raw('[]'), 400);
    await expectError(await raw('"a string"'), 400);
    expect(await listBatchIds()).toEqual(before);
  });

  it('names the offending top-level field', async () => {
    const before = await listBatchIds();
    const { input_file_id: _omit, ...withoutFile } = valid();
    const cases: [unknown, string][] = [
      [withoutFile, 'input_file_id'],
      [{ ...valid(), endpoint: '/v1/images/generations' }, 'endpoint'],
      [{ ...valid(), endpoint: undefined }, 'endpoint'],
      [{ ...valid(), completion_window: '48h' }, 'completion_window'],
      [{ ...valid(), completion_window: 24 }, 'completion_window'],
      [{ ...valid(), input_file_id: 'file-does-not-exist' }, 'input_file_id'],
    ];
    for (const [body, param] of cases) await expectError(await create(body), 400, { param });
    expect(await listBatchIds()).toEqual(before);
  });

  it('refuses bad metadata and an input file that is not a batch input', async () => {
    const done = (await bodyOf<BatchObject>(await create(valid()))).id;
    await batchOutcome(h, done);
    const outputFileId = (await bodyOf<BatchObject>(await h.api(`/v1/batches/${done}`))).output_file_id!;
    const before = await listBatchIds();
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    await expectError(await create({ ...valid(), metadata: tooMany }), 400, { param: 'metadata' });
    await expectError(await create({ ...valid(), metadata: { note: 'x'.repeat(513) } }), 400, { param: 'metadata.note' });
    await expectError(await create({ ...valid(), metadata: { n: 1 } }), 400, { param: 'metadata.n' });
    await expectError(await create({ ...valid(), input_file_id: outputFileId }), 400, { param: 'input_file_id', code: 'invalid_file_purpose' });
    expect(await listBatchIds()).toEqual(before);
  });

  it('names the offending webhook field and stores nothing', async () => {
    const before = await listBatchIds();
    const url = 'http://127.0.0.1:9/hook';
    const cases: [Record<string, unknown>, string][] = [
      [{ url, max_retries: 0 }, 'webhook.max_retries'],
      [{ url, max_retries: 11 }, 'webhook.max_retries'],
      [{ url, max_retries: 2.5 }, 'webhook.max_retries'],
      [{ url, timeout: 4 }, 'webhook.timeout'],
      [{ url, timeout: 301 }, 'webhook.timeout'],
      [{ url, secret: 'x'.repeat(129) }, 'webhook.secret'],
      [{ url: 'ftp://example.com/hook' }, 'webhook.url'],
      [{ url: 'http://user:pass@example.com/hook' }, 'webhook.url'],
      [{ url: 'not a url' }, 'webhook.url'],
      [{ url: '' }, 'webhook.url'],
      [{ max_retries: 3 }, 'webhook.url'],
    ];
    for (const [webhook, param] of cases) await expectError(await create({ ...valid(), webhook }), 400, { param });

    // An unknown event is named with its position in the list.
    await expectError(await create({ ...valid(), webhook: { url, events: ['completed', 'started'] } }), 400, { param: 'webhook.events.1' });
    await expectError(await create({ ...valid(), webhook: { url, events: [] } }), 400, { param: 'webhook.events' });
    // Unknown webhook fields are refused rather than silently dropped.
    await expectError(await create({ ...valid(), webhook: { url, retries: 3 } }), 400, { param: 'webhook' });

    expect(await listBatchIds()).toEqual(before);
  });

  it('accepts the boundary values', async () => {
    const receiver = await startWebhookReceiver();
    for (const webhook of [
      { url: receiver.url, max_retries: 1, timeout: 5, secret: 'x'.repeat(128) },
      { url: receiver.url, max_retries: 10, timeout: 300, events: ['batch.completed', 'failed'] },
    ]) {
      const res = await create({ ...valid(), webhook });
      expect(res.status, await res.clone().text()).toBe(200);
      await batchOutcome(h, (await bodyOf<BatchObject>(res)).id);
    }
    await receiver.close();
  });
});

describe('webhook URLs into private networks', () => {
  let strict: Harness;
  beforeAll(async () => {
    strict = await startHarness({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('refuses cloud metadata, loopback and private addresses when private networks are not allowed', async () => {
    const fileId = await strict.upload(chatLines(1));
    const list = async () => (await bodyOf<ListOf<BatchObject>>(await strict.api('/v1/batches'))).data;
    const before = await list();
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:8080/hook', 'http://10.0.0.1/hook', 'http://[::1]/hook', 'http://2130706433/hook']) {
      for (const body of [{ webhook: { url } }, { metadata: { webhook_url: url } }]) {
        const res = await strict.api('/v1/batches', {
          method: 'POST',
          json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...body },
        });
        await expectError(res, 400, { param: 'webhook' in body ? 'webhook.url' : 'metadata.webhook_url', code: 'invalid_webhook_url' });
      }
    }
    expect(await list()).toEqual(before);
  });
});

describe('the Files API', () => {
  it('uploads, shows, lists, downloads byte for byte and deletes a file', async () => {
    // Multi-byte characters, CRLF and no final newline: the bytes must come back exactly.
    const content = Buffer.from(`${chatLines(2)}\r\n{"custom_id":"ünïcødé ✓ 🚀"}`, 'utf8');
    const res = await postFile(uploadForm({ purpose: 'batch', content, filename: 'in.jsonl' }));
    expect(res.status).toBe(200);
    const file = await bodyOf<FileObject>(res);
    expect(file).toEqual({
      id: expect.stringMatching(/^file-/),
      object: 'file',
      bytes: content.length,
      created_at: expect.any(Number),
      expires_at: expect.any(Number),
      filename: 'in.jsonl',
      purpose: 'batch',
      status: 'processed',
      status_details: null,
    });

    // OpenAI: a batch file expires after 30 days unless expires_after says otherwise.
    expect(file.expires_at).toBe(file.created_at + 30 * 86_400);
    expect(await bodyOf<FileObject>(await h.api(`/v1/files/${file.id}`))).toEqual(file);

    const list = await bodyOf<ListOf<FileObject>>(await h.api('/v1/files'));
    expect(list).toMatchObject({ object: 'list', has_more: false, first_id: expect.any(String), last_id: expect.any(String) });
    expect(list.data).toContainEqual(file);
    expect(list.first_id).toBe(list.data[0]!.id);
    expect(list.last_id).toBe(list.data[list.data.length - 1]!.id);

    const download = await h.api(`/v1/files/${file.id}/content`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-length')).toBe(String(content.length));
    expect(Buffer.from(await download.arrayBuffer()).equals(content)).toBe(true);

    const deleted = await h.api(`/v1/files/${file.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: file.id, object: 'file', deleted: true });
    await expectError(await h.api(`/v1/files/${file.id}`), 404, { code: 'not_found' });
    await expectError(await h.api(`/v1/files/${file.id}/content`), 404, { code: 'not_found' });
    await expectError(await h.api(`/v1/files/${file.id}`, { method: 'DELETE' }), 404, { code: 'not_found' });
    expect(await listFileIds()).not.toContain(file.id);
  });

  it('stores a file larger than one storage chunk unchanged, whichever field comes first', async () => {
    // ~2.6 MB of 3-byte characters: chunk boundaries (1 MiB) fall inside characters.
    const content = Buffer.from('€'.repeat(900_000), 'utf8');
    const file = await bodyOf<FileObject>(await postFile(uploadForm({ purpose: 'batch', content, filename: 'big.jsonl', fileFirst: true })));
    expect(file).toMatchObject({ bytes: content.length, purpose: 'batch', filename: 'big.jsonl' });
    const download = await h.api(`/v1/files/${file.id}/content`);
    expect(Buffer.from(await download.arrayBuffer()).equals(content)).toBe(true);
  });

  it('keeps a file name in any script and offers it for download as a valid header', async () => {
    const filename = 'données “Q3” (✓).jsonl';
    const file = await bodyOf<FileObject>(await postFile(uploadForm({ purpose: 'batch', content: chatLines(1), filename })));
    expect(file.filename).toBe(filename);
    expect((await bodyOf<FileObject>(await h.api(`/v1/files/${file.id}`))).filename).toBe(filename);
    const download = await h.api(`/v1/files/${file.id}/content`);
    expect(download.status).toBe(200);
    const disposition = download.headers.get('content-disposition')!;
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe(filename);
  });

  it('refuses uploads without a valid purpose or file, or not multipart, and keeps nothing', async () => {
    const before = await listFileIds();
    await expectError(await postFile(uploadForm({ content: 'x' })), 400, { param: 'purpose' });
    await expectError(await postFile(uploadForm({ purpose: 'fine-tune', content: 'x' })), 400, { param: 'purpose' });
    await expectError(await postFile(uploadForm({ purpose: 'fine-tune', content: 'x', fileFirst: true })), 400, { param: 'purpose' });
    await expectError(await postFile(uploadForm({ content: 'x', fileFirst: true })), 400, { param: 'purpose' });
    await expectError(await postFile(uploadForm({ purpose: 'batch_output', content: 'x' })), 400, { param: 'purpose' });
    await expectError(await postFile(uploadForm({ purpose: 'batch' })), 400, { param: 'file' });
    await expectError(await postFile(uploadForm({ purpose: 'batch', content: 'x', fileField: 'document' })), 400, { param: 'file' });
    await expectError(await h.api('/v1/files', { method: 'POST', json: { purpose: 'batch', file: 'x' } }), 400, { code: 'invalid_content_type' });
    await expectError(await h.api('/v1/files', { method: 'POST' }), 400, { code: 'invalid_content_type' });
    for (const contentType of ['multipart/form-data', 'multipart/form-data; boundary=xyz']) {
      const res = await h.api('/v1/files', { method: 'POST', body: 'this is not a multipart body', headers: { 'content-type': contentType } });
      await expectError(res, 400, { code: 'invalid_multipart' });
    }
    expect(await listFileIds()).toEqual(before);
  });

  it('keeps files private to their owner', async () => {
    const fileId = await h.upload(chatLines(1));
    expect(await listFileIds(BOB_KEY)).not.toContain(fileId);
    await expectError(await h.api(`/v1/files/${fileId}`, { key: BOB_KEY }), 404, { code: 'not_found' });
    await expectError(await h.api(`/v1/files/${fileId}/content`, { key: BOB_KEY }), 404, { code: 'not_found' });
    await expectError(await h.api(`/v1/files/${fileId}`, { method: 'DELETE', key: BOB_KEY }), 404, { code: 'not_found' });
    // Bob's attempt changed nothing for Alice.
    expect((await h.api(`/v1/files/${fileId}/content`)).status).toBe(200);
    expect(await listFileIds()).toContain(fileId);
  });
});

describe('list parameters', () => {
  it('names an invalid query parameter', async () => {
    await expectError(await h.api('/v1/batches?limit=0'), 400, { param: 'limit' });
    await expectError(await h.api('/v1/batches?limit=101'), 400, { param: 'limit' });
    await expectError(await h.api('/v1/batches?limit=abc'), 400, { param: 'limit' });
    await expectError(await h.api('/v1/files?order=sideways'), 400, { param: 'order' });
  });
});

describe('unknown ids and routes', () => {
  it('answers 404 in the OpenAI shape', async () => {
    await expectError(await h.api('/v1/batches/batch_nope'), 404, { code: 'not_found' });
    await expectError(await h.api('/v1/batches/batch_nope/cancel', { method: 'POST' }), 404, { code: 'not_found' });
    await expectError(await h.api('/v1/files/file-nope'), 404, { code: 'not_found' });
    await expectError(await h.api('/v1/files/file-nope/content'), 404, { code: 'not_found' });
    await expectError(await h.api('/v1/files/file-nope', { method: 'DELETE' }), 404, { code: 'not_found' });
    await expectError(await h.api('/v1/batches/batch_nope/webhook_deliveries'), 404, { code: 'not_found' });
    await expectError(await h.api('/v1/models'), 404);
  });
});

describe('health', () => {
  it('reports liveness without a key and readiness with its checks', async () => {
    const health = await h.app.request('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await h.app.request('/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });
});

describe('webhook secrets', () => {
  it('never appear in any API response; has_secret says there is one', async () => {
    const secret = 'whsec_api-contract-secret-that-must-never-leak-0123456789';
    const receiver = await startWebhookReceiver();
    const fileId = await h.upload(chatLines(2));
    const send = () =>
      h.api('/v1/batches', {
        method: 'POST',
        headers: { 'idempotency-key': `secret-${fileId}` },
        json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', webhook: { url: receiver.url, secret } },
      });
    const createdRes = await send();
    const createdText = await createdRes.text();
    expect(createdRes.status).toBe(200);
    const created = JSON.parse(createdText);
    expect(created.webhook).toEqual({ url: receiver.url, events: ['completed', 'failed', 'cancelled', 'expired'], max_retries: 3, timeout: 30, has_secret: true });

    const replayed = await send();
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    const texts = [createdText, await replayed.text()];
    await batchOutcome(h, created.id);
    await deliveryResult(h, created.id, 'completed');
    for (const path of [`/v1/batches/${created.id}`, '/v1/batches', `/v1/batches/${created.id}/webhook_deliveries`]) {
      const res = await h.api(path);
      expect(res.status).toBe(200);
      texts.push(await res.text());
    }
    texts.push(await (await h.api(`/v1/batches/${created.id}/cancel`, { method: 'POST' })).text());
    for (const text of texts) {
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/"secret"/);
    }
    expect(JSON.parse(texts[2]!).webhook.has_secret).toBe(true);
    await receiver.close();
  });
});
