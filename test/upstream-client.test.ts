import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../src/upstream/echo-server.js';
import {
  createUpstreamClient,
  retryDelayMs,
  type UpstreamClient,
  type UpstreamClientOptions,
} from '../src/upstream/upstream-client.js';

const clients: UpstreamClient[] = [];
const servers: { close(): Promise<void> }[] = [];

function client(overrides: Partial<UpstreamClientOptions> & { baseUrl: string }): UpstreamClient {
  const c = createUpstreamClient({ concurrency: 8, timeoutMs: 5_000, maxRetries: 3, retryBaseMs: 10, retryMaxMs: 50, ...overrides });
  clients.push(c);
  return c;
}

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A local server that records each request and lets the test answer it. */
async function scriptedServer(answer: (hit: Hit, n: number, res: ServerResponse) => void) {
  const hits: Hit[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const hit = { path: req.url ?? '', headers: req.headers, body, at: performance.now() };
      hits.push(hit);
      answer(hit, hits.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const handle = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('upstream client against the echo model', () => {
  let echo: EchoServer;
  beforeAll(async () => {
    echo = await startEchoServer();
  });
  afterAll(() => echo.stop());

  const chat = (extra: object = {}) =>
    JSON.stringify({ model: 'echo-1', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello batch world' }], ...extra });

  it('answers each OpenAI endpoint on the first attempt', async () => {
    const c = client({ baseUrl: echo.url });

    const completion = await c.send({ path: '/v1/chat/completions', body: chat(), requestId: 'req_given' });
    expect(completion).toMatchObject({ ok: true, statusCode: 200, attempts: 1, requestId: 'req_given' });
    expect(completion.body).toMatchObject({
      object: 'chat.completion',
      model: 'echo-1',
      choices: [{ message: { role: 'assistant', content: 'hello batch world' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    });

    const text = await c.send({ path: '/v1/completions', body: JSON.stringify({ model: 'echo-1', prompt: 'say this' }) });
    expect(text).toMatchObject({ ok: true, body: { object: 'text_completion', choices: [{ text: 'say this' }] } });

    const embedding = await c.send({ path: '/v1/embeddings', body: JSON.stringify({ model: 'e', input: ['a', 'b', 'a'] }) });
    expect(embedding.ok).toBe(true);
    const vectors = (embedding.body as { data: { embedding: number[] }[] }).data.map((d) => d.embedding);
    expect(vectors).toHaveLength(3);
    expect(vectors[0]).toHaveLength(8);
    expect(vectors[2]).toEqual(vectors[0]);
    expect(vectors[1]).not.toEqual(vectors[0]);

    const response = await c.send({ path: '/v1/responses', body: JSON.stringify({ model: 'r', input: 'respond please' }) });
    expect(response).toMatchObject({ ok: true, body: { object: 'response', status: 'completed', output_text: 'respond please' } });
    // The echo server names its own request ids when the caller gives none.
    expect(response.requestId).toMatch(/^req_echo_/);
  });

  it('retries 503s and succeeds on the third attempt', async () => {
    const c = client({ baseUrl: echo.url });
    const result = await c.send({ path: '/v1/chat/completions', body: chat({ echo_fail_first: 2 }) });
    expect(result).toMatchObject({ ok: true, statusCode: 200, attempts: 3 });
  });

  it('returns a permanent 400 with the upstream body, without retrying', async () => {
    const c = client({ baseUrl: echo.url });
    const result = await c.send({ path: '/v1/chat/completions', body: chat({ echo_status: 400 }) });
    expect(result).toMatchObject({
      ok: false,
      statusCode: 400,
      attempts: 1,
      body: { error: { type: 'invalid_request_error', code: 'echo_status' } },
      error: { code: 'upstream_error' },
    });
  });

  it('returns the last 503 once retries are exhausted', async () => {
    const c = client({ baseUrl: echo.url, maxRetries: 2 });
    const result = await c.send({ path: '/v1/chat/completions', body: chat({ echo_fail_first: 10 }) });
    expect(result).toMatchObject({ ok: false, statusCode: 503, attempts: 3, body: { error: { type: 'server_error' } } });
  });

  it('retries a timeout, then reports it', async () => {
    const c = client({ baseUrl: echo.url, timeoutMs: 100, maxRetries: 1 });
    const result = await c.send({ path: '/v1/chat/completions', body: chat({ echo_delay_ms: 3_000 }) });
    expect(result).toMatchObject({ ok: false, statusCode: null, attempts: 2, error: { code: 'timeout' } });
  });

  it('rejects promptly with an AbortError when the caller aborts mid-request', async () => {
    const c = client({ baseUrl: echo.url });
    const controller = new AbortController();
    const started = performance.now();
    const pending = c.send({ path: '/v1/chat/completions', body: chat({ echo_delay_ms: 10_000 }), signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    // Far below the 10 s the upstream would have taken.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(c.inFlight).toBe(0);
  });

  it('rejects an already aborted send without calling the upstream', async () => {
    const c = client({ baseUrl: echo.url });
    const before = echo.stats().requests;
    await expect(c.send({ path: '/v1/chat/completions', body: chat(), signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(echo.stats().requests).toBe(before);
  });
});

describe('upstream client retry behaviour', () => {
  it('honours Retry-After before the second attempt', async () => {
    const server = await scriptedServer((_hit, n, res) =>
      n === 1 ? reply(res, 429, '{"error":{"message":"slow down"}}', { 'retry-after': '1' }) : reply(res, 200, '{"fine":true}'),
    );
    const c = client({ baseUrl: server.url, retryMaxMs: 5_000 });
    const result = await c.send({ path: '/v1/chat/completions', body: '{}' });
    expect(result).toMatchObject({ ok: true, attempts: 2, body: { fine: true } });
    expect(server.hits[1]!.at - server.hits[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('stops retrying when the caller aborts during the backoff', async () => {
    let firstAnswered!: () => void;
    const answered = new Promise<void>((resolve) => (firstAnswered = resolve));
    const server = await scriptedServer((_hit, _n, res) => {
      reply(res, 503, '{}', { 'retry-after': '30' });
      firstAnswered();
    });
    const c = client({ baseUrl: server.url, retryMaxMs: 60_000 });
    const controller = new AbortController();
    const pending = c.send({ path: '/v1/chat/completions', body: '{}', signal: controller.signal });
    await answered;
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.hits).toHaveLength(1);
  });

  it('frees the concurrency slot while a request waits to retry', async () => {
    const server = await scriptedServer((hit, _n, res) => {
      const retryLater = hit.path === '/v1/slow' && server.hits.filter((h) => h.path === '/v1/slow').length === 1;
      if (retryLater) reply(res, 503, '{}', { 'retry-after': '1' });
      else reply(res, 200, '{}');
    });
    const c = client({ baseUrl: server.url, concurrency: 1, retryMaxMs: 5_000 });
    const slow = c.send({ path: '/v1/slow', body: '{}' });
    // Queued behind the slow request's first attempt, but not behind its backoff.
    const other = c.send({ path: '/v1/other', body: '{}' });
    await Promise.all([slow, other]);
    expect(server.hits.map((h) => h.path)).toEqual(['/v1/slow', '/v1/other', '/v1/slow']);
  });

  it('never runs more requests at once than its concurrency', async () => {
    let active = 0;
    let maxActive = 0;
    let maxInFlight = 0;
    const server = await scriptedServer((_hit, _n, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      maxInFlight = Math.max(maxInFlight, c.inFlight);
      setTimeout(() => {
        active--;
        reply(res, 200, '{}');
      }, 30);
    });
    const c = client({ baseUrl: server.url, concurrency: 4 });
    const results = await Promise.all(Array.from({ length: 20 }, () => c.send({ path: '/v1/chat/completions', body: '{}' })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(maxActive).toBe(4);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(c.inFlight).toBe(0);
  });

  it('reports a connection error after retrying a refused connection', async () => {
    const closed = await scriptedServer(() => undefined);
    await closed.close();
    const c = client({ baseUrl: closed.url, maxRetries: 2 });
    const result = await c.send({ path: '/v1/chat/completions', body: '{}' });
    expect(result).toMatchObject({ ok: false, statusCode: null, attempts: 3, error: { code: 'connection_error' } });
  });

  it('sends the api key, content type and request id, and joins a /v1 base URL without doubling it', async () => {
    const server = await scriptedServer((_hit, _n, res) => reply(res, 200, 'plain words', { 'content-type': 'text/plain' }));
    const c = client({ baseUrl: `${server.url}/v1`, apiKey: 'sk-test-123' });
    const result = await c.send({ path: '/v1/chat/completions', body: '{"a":1}', requestId: 'req_abc' });
    // A body that is not JSON comes back as text; the id falls back to the caller's.
    expect(result).toMatchObject({ ok: true, body: 'plain words', requestId: 'req_abc' });
    const hit = server.hits[0]!;
    expect(hit.path).toBe('/v1/chat/completions');
    expect(hit.body).toBe('{"a":1}');
    expect(hit.headers).toMatchObject({ authorization: 'Bearer sk-test-123', 'content-type': 'application/json', 'x-request-id': 'req_abc' });
  });

  it('generates a request id when neither side names one', async () => {
    const server = await scriptedServer((_hit, _n, res) => reply(res, 200, '{}'));
    const c = client({ baseUrl: server.url });
    const result = await c.send({ path: '/v1/chat/completions', body: '{}' });
    expect(result.requestId).toMatch(/^req_[0-9a-f]{32}$/);
  });
});

describe('retryDelayMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('uses Retry-After seconds, capped at the maximum', () => {
    expect(retryDelayMs(1, '2', 100, 30_000, () => 0.5, now)).toBe(2_000);
    expect(retryDelayMs(1, '0', 100, 30_000, () => 0.5, now)).toBe(0);
    expect(retryDelayMs(1, '1.5', 100, 30_000, () => 0.5, now)).toBe(1_500);
    expect(retryDelayMs(1, '120', 100, 30_000, () => 0.5, now)).toBe(30_000);
  });

  it('uses a Retry-After HTTP date relative to now', () => {
    expect(retryDelayMs(1, 'Wed, 01 Jan 2025 00:00:05 GMT', 100, 30_000, () => 0.5, now)).toBe(5_000);
    expect(retryDelayMs(1, 'Tue, 31 Dec 2024 23:59:00 GMT', 100, 30_000, () => 0.5, now)).toBe(0);
  });

  it('falls back to full-jitter exponential backoff', () => {
    expect(retryDelayMs(1, undefined, 100, 30_000, () => 0, now)).toBe(0);
    expect(retryDelayMs(1, undefined, 100, 30_000, () => 0.5, now)).toBe(50);
    expect(retryDelayMs(3, null, 100, 30_000, () => 0.5, now)).toBe(200);
    expect(retryDelayMs(3, 'soon', 100, 30_000, () => 0.999, now)).toBeLessThan(400);
    // The exponential ceiling is capped at the maximum.
    expect(retryDelayMs(20, undefined, 100, 30_000, () => 0.5, now)).toBe(15_000);
  });
});
