import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchOutcome } from './support/batches.js';
import { ALICE_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
let server: ServerType;
let baseURL: string;
let client: OpenAI;

beforeAll(async () => {
  h = await startHarness();
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: h.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  // No SDK retries: every answer the test sees is the server's first.
  client = new OpenAI({ apiKey: ALICE_KEY, baseURL, maxRetries: 0 });
});
afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  await h?.close();
});

const finished = (batchId: string) => batchOutcome(h, batchId);

async function uploadInput(lines: string, filename = 'in.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(lines), filename), purpose: 'batch' });
}

describe('the official OpenAI client', () => {
  it('uploads a file, runs a batch and reads its output', async () => {
    const input = chatLines(5);
    const file = await uploadInput(input, 'prompts-é.jsonl');
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'prompts-é.jsonl', bytes: Buffer.byteLength(input) });
    expect(await client.files.retrieve(file.id)).toEqual(file);
    const listed = [];
    for await (const f of client.files.list()) listed.push(f.id);
    expect(listed).toContain(file.id);

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { origin: 'openai-sdk' },
    });
    expect(created).toMatchObject({ object: 'batch', input_file_id: file.id, status: 'validating', metadata: { origin: 'openai-sdk' } });

    expect(await finished(created.id)).toBe('completed');
    const batch = await client.batches.retrieve(created.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect(batch.completed_at).toEqual(expect.any(Number));
    // The SDK's `model` and `usage` (BatchUsage): five echoes of a 2-token prompt.
    expect(batch.model).toBe('echo');
    const usage: OpenAI.Batches.BatchUsage | undefined = batch.usage;
    expect(usage).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 10,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 20,
    });

    const content = await client.files.content(batch.output_file_id!);
    const lines = (await content.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id)).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4']);
    const completion = lines[2].response.body as OpenAI.Chat.Completions.ChatCompletion;
    expect(completion.choices[0]!.message.content).toContain('hello 2');

    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true });
  });

  it('lists batches across pages with auto-pagination', async () => {
    const file = await uploadInput(chatLines(1));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      ids.push(batch.id);
    }
    const first = await client.batches.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.hasNextPage()).toBe(true);

    const seen: string[] = [];
    for await (const batch of client.batches.list({ limit: 2 })) seen.push(batch.id);
    for (const id of ids) expect(seen).toContain(id);
    expect(new Set(seen).size).toBe(seen.length);
    // Newest first.
    expect(seen.indexOf(ids[2]!)).toBeLessThan(seen.indexOf(ids[0]!));
    for (const id of ids) await finished(id);
  });

  it("runs a moderations batch, and refuses an endpoint the upstream does not serve as a BadRequestError naming endpoint", async () => {
    const line = (i: number) => JSON.stringify({ custom_id: `m-${i}`, method: 'POST', url: '/v1/moderations', body: { model: 'omni-moderation-latest', input: `line ${i}` } });
    const file = await uploadInput([0, 1].map(line).join('\n'));
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/moderations', completion_window: '24h' });
    expect(await finished(created.id)).toBe('completed');
    expect(await client.batches.retrieve(created.id)).toMatchObject({ status: 'completed', model: 'omni-moderation-latest', request_counts: { total: 2, completed: 2, failed: 0 } });

    const refused = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/images/generations', completion_window: '24h' }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused).toMatchObject({ status: 400, param: 'endpoint', code: 'unsupported_endpoint' });
  });

  it('cancels a running batch', async () => {
    const file = await uploadInput(chatLines(4, (i) => (i >= 2 ? { echo_delay_ms: 600_000 } : {})));
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const cancelling = await client.batches.cancel(created.id);
    expect(cancelling.id).toBe(created.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);

    expect(await finished(created.id)).toBe('cancelled');
    const batch = await client.batches.retrieve(created.id);
    expect(batch.status).toBe('cancelled');
    expect(batch.cancelled_at).toEqual(expect.any(Number));
    expect(batch.request_counts!.total).toBe(batch.request_counts!.completed + batch.request_counts!.failed);
    const errors = (await (await client.files.content(batch.error_file_id!)).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) expect(line.error.code).toBe('batch_cancelled');
  });

  it('surfaces our errors as the SDK error classes with status, code and param', async () => {
    const notFound = await client.batches.retrieve('batch_nope').catch((err: unknown) => err);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: 'not_found', type: 'invalid_request_error' });

    const file = await uploadInput(chatLines(1));
    const badRequest = await client.batches
      .create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '48h' as '24h' })
      .catch((err: unknown) => err);
    expect(badRequest).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badRequest).toMatchObject({ status: 400, param: 'completion_window' });

    const done = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await finished(done.id);
    const conflict = await client.batches.cancel(done.id).catch((err: unknown) => err);
    expect(conflict).toBeInstanceOf(OpenAI.ConflictError);
    expect(conflict).toMatchObject({ status: 409, code: 'batch_not_cancellable' });

    const stranger = new OpenAI({ apiKey: 'sk-nobody-knows-this', baseURL, maxRetries: 0 });
    const unauthorized = await stranger.batches.list().catch((err: unknown) => err);
    expect(unauthorized).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(unauthorized).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });
});
