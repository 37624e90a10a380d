import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { isDatabaseUnavailable } from '../src/db/connection-errors.js';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { expectError } from './support/api-client.js';

const KEY = 'sk-hardening-test-key';
const root = new URL('..', import.meta.url).pathname;

/**
 * The API alone (no Temporal: the routes used here never reach it) in its own
 * process on a real socket, so a crash shows as the process exiting.
 */
async function startApiProcess(owner: string) {
  const code = `
    import { serve } from '@hono/node-server';
    import { createApp } from './src/api/app.ts';
    import { parseConfig } from './src/config.ts';
    import { createPool } from './src/db/pool.ts';
    import { createLogger } from './src/shared/logger.ts';
    const config = parseConfig({ API_KEYS: process.env.API_KEYS, LOG_LEVEL: 'silent' });
    const app = createApp({ pool: createPool(process.env.DATABASE_URL, 2), temporal: {}, config, log: createLogger('silent', 'api') });
    serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => console.log(JSON.stringify({ port: info.port })));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, API_KEYS: `${owner}:${KEY}`, DATABASE_URL: inject('databaseUrl') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { port } = JSON.parse(line) as { port: number };
  return { child, port, stderr: () => stderr, url: `http://127.0.0.1:${port}` };
}

/** Sends raw bytes and reads until the server closes or answers in full (or `ms` passes). */
async function rawRequest(port: number, head: string, body: string, ms = 5_000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(head + body);
  let received = '';
  socket.on('data', (d) => (received += d));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, ms))]).catch(() => undefined);
  socket.destroy();
  return received;
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

describe('a multipart upload that breaks off', () => {
  const owner = `hardening-${Math.random().toString(36).slice(2, 10)}`;
  let api: Awaited<ReturnType<typeof startApiProcess>>;
  let pool: Pool;
  beforeAll(() => {
    pool = createPool(inject('databaseUrl'), 2);
  });
  afterAll(async () => {
    await pool?.end();
  });
  // One process per test, so each test shows on its own whether the process survives.
  beforeEach(async () => {
    api = await startApiProcess(owner);
  });
  afterEach(() => {
    api?.child.kill();
  });

  const storedFiles = async () => (await pool.query('SELECT count(*)::int AS n FROM files WHERE owner = $1::text', [owner])).rows[0].n as number;

  async function stillServes() {
    expect(exited(api.child), api.stderr()).toBe(false);
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    const list = await fetch(`${api.url}/v1/files`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(list.status).toBe(200);
  }

  it('without its closing boundary is a 400 and the process keeps serving', async () => {
    const body =
      '--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n' +
      '--B\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"a":1}\n';
    const head =
      `POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: multipart/form-data; boundary=B\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    const answer = await rawRequest(api.port, head, body);
    expect(answer, api.stderr()).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"invalid_multipart"');
    await stillServes();
    expect(await storedFiles()).toBe(0);
  });

  it('when the client goes away mid-file, the process keeps serving and stores nothing', async () => {
    const body =
      '--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n' +
      '--B\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n' + '{"a":1}\n'.repeat(1000);
    const head =
      `POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 10000000\r\n\r\n`;
    await rawRequest(api.port, head, body, 300);
    await stillServes();
    expect(await storedFiles()).toBe(0);
  });
});

/** The API in this process with a stub Temporal client: every request below is settled before a workflow would start. */
function appOn(pool: Pool, owner: string) {
  const config = parseConfig({ API_KEYS: `${owner}:${KEY}`, LOG_LEVEL: 'silent', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
  const app = createApp({ pool, temporal: {} as Client, config, log: createLogger('silent', 'test') });
  const api = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('authorization', `Bearer ${KEY}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return app.request(path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
  };
  return { app, api };
}

const CHAT_LINE = JSON.stringify({ custom_id: 'r1', method: 'POST', url: '/v1/chat/completions', body: { model: 'echo', messages: [] } });

function uploadForm(parts: [name: string, value: string, filename?: string][]) {
  const form = new FormData();
  for (const [name, value, filename] of parts) {
    if (filename) form.append(name, new Blob([value]), filename);
    else form.append(name, value);
  }
  return form;
}

describe('hostile input', () => {
  const owner = `hostile-${Math.random().toString(36).slice(2, 10)}`;
  let pool: Pool;
  let api: ReturnType<typeof appOn>['api'];
  let fileId: string;
  beforeAll(async () => {
    pool = createPool(inject('databaseUrl'), 3);
    api = appOn(pool, owner).api;
    const res = await api('/v1/files', { method: 'POST', body: uploadForm([['purpose', 'batch'], ['file', CHAT_LINE, 'in.jsonl']]) });
    expect(res.status, await res.clone().text()).toBe(200);
    fileId = ((await res.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await pool?.end();
  });

  const storedFiles = async () => (await pool.query('SELECT count(*)::int AS n FROM files WHERE owner = $1::text', [owner])).rows[0].n as number;
  const storedBatches = async () => (await pool.query('SELECT count(*)::int AS n FROM batches WHERE owner = $1::text', [owner])).rows[0].n as number;
  const valid = () => ({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });

  it('a NUL in a path id is a 404 naming the id', async () => {
    const cases: [string, string?][] = [
      ['/v1/files/file-%00'],
      ['/v1/files/file-%00/content'],
      ['/v1/files/%00', 'DELETE'],
      ['/v1/batches/batch_%00'],
      ['/v1/batches/batch_%00/cancel', 'POST'],
      ['/v1/batches/batch_%00/webhook_deliveries'],
      ['/v1/webhooks/dead-letter/1%00'],
      ['/v1/webhooks/dead-letter/%00/retry', 'POST'],
      ['/v1/webhooks/dead-letter/%00', 'DELETE'],
    ];
    for (const [path, method] of cases) await expectError(await api(path, { method }), 404, { param: 'id', code: 'not_found' });
  });

  it('a NUL in a query parameter is a 400 naming it', async () => {
    const cases: [string, string][] = [
      ['/v1/files?after=file-%00', 'after'],
      ['/v1/files?purpose=batch%00', 'purpose'],
      ['/v1/batches?after=batch_%00', 'after'],
      ['/v1/webhooks/dead-letter?batch_id=batch_%00', 'batch_id'],
      ['/v1/batches/batch_x/webhook_deliveries?limit=1&after=%00', 'after'],
    ];
    for (const [path, param] of cases) await expectError(await api(path), 400, { param, code: 'invalid_value' });
  });

  it('a NUL or an unpaired surrogate in a JSON text field is a 400 naming the field, and stores nothing', async () => {
    const hook = 'http://127.0.0.1:9/hook';
    const cases: [unknown, string][] = [
      [{ ...valid(), input_file_id: 'file-\u0000' }, 'input_file_id'],
      [{ ...valid(), metadata: { note: 'a\u0000b' } }, 'metadata.note'],
      [{ ...valid(), metadata: { note: 'a\ud800b' } }, 'metadata.note'],
      [{ ...valid(), metadata: { note: '\udc00' } }, 'metadata.note'],
      [{ ...valid(), metadata: { 'k\u0000': 'v' } }, 'metadata'],
      [{ ...valid(), metadata: { 'k\ud800': 'v' } }, 'metadata'],
      [{ ...valid(), webhook: { url: hook, secret: 'whsec_\u0000' } }, 'webhook.secret'],
      [{ ...valid(), webhook: { url: `${hook}\u0000` } }, 'webhook.url'],
    ];
    for (const [body, param] of cases) {
      const error = await expectError(await api('/v1/batches', { method: 'POST', json: body }), 400);
      expect(error.param?.startsWith(param), `${error.param} for ${JSON.stringify(body)}`).toBe(true);
    }
    expect(await storedBatches()).toBe(0);
  });

  it('a paired surrogate (an emoji) is fine where text is free', async () => {
    // Refusing storage-breaking text must not refuse ordinary non-BMP characters: the request gets as far as
    // the workflow start, which the stub client here cannot do.
    const res = await api('/v1/batches', { method: 'POST', json: { ...valid(), metadata: { note: '🚀 ok' } } });
    await expectError(res, 503, { code: 'temporal_unavailable' });
    await pool.query(`DELETE FROM batches WHERE owner = $1::text`, [owner]);
  });

  it('refuses hostile bulk-retry filters', async () => {
    const retry = (json: unknown) => api('/v1/webhooks/dead-letter/retry', { method: 'POST', json });
    await expectError(await retry({ batch_id: 'batch_\u0000' }), 400, { param: 'batch_id' });
    await expectError(await retry({ created_since: 1e15 }), 400, { param: 'created_since' });
    await expectError(await retry({ created_since: 8_640_000_000_001 }), 400, { param: 'created_since' });
  });

  it('refuses a __proto__ metadata key instead of dropping it', async () => {
    const body = `{"input_file_id":"${fileId}","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"__proto__":{"polluted":"yes"}}}`;
    const res = await api('/v1/batches', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await expectError(res, 400, { param: 'metadata.__proto__' });
    expect(await storedBatches()).toBe(0);
  });

  it('refuses an upload with two file parts and keeps nothing', async () => {
    const before = await storedFiles();
    const form = uploadForm([['purpose', 'batch'], ['file', CHAT_LINE, 'a.jsonl'], ['file', CHAT_LINE, 'b.jsonl']]);
    await expectError(await api('/v1/files', { method: 'POST', body: form }), 400, { param: 'file' });
    expect(await storedFiles()).toBe(before);
  });

  it('refuses a file name with a NUL in it and keeps nothing', async () => {
    const before = await storedFiles();
    // busboy itself refuses a raw NUL in a part header; a percent-encoded one reaches the file name.
    for (const [disposition, param] of [[`filename*=utf-8''a%00b.jsonl`, 'file'], ['filename="a\u0000b.jsonl"', null]] as const) {
      const body = `--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--B\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\n\r\n${CHAT_LINE}\r\n--B--\r\n`;
      const res = await api('/v1/files', { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=B' } });
      await expectError(res, 400, { param });
    }
    expect(await storedFiles()).toBe(before);
  });

  it('accepts multipart/form-data in any capitals', async () => {
    const body = `--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n${CHAT_LINE}\r\n--B--\r\n`;
    for (const contentType of ['Multipart/Form-Data; boundary=B', 'MULTIPART/FORM-DATA; boundary=B']) {
      const res = await api('/v1/files', { method: 'POST', body, headers: { 'content-type': contentType } });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toMatchObject({ purpose: 'batch', bytes: CHAT_LINE.length });
    }
  });

  it('refuses a wrong purpose sent before a large file without reading the file', async () => {
    const before = await storedFiles();
    const mib = new Uint8Array(1024 * 1024).fill(0x61);
    let sent = 0;
    const total = 150;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(
          '--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n' +
          '--B\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n',
        ));
      },
      pull(controller) {
        if (sent === total) return controller.close();
        sent += 1;
        controller.enqueue(mib);
      },
    });
    const res = await api('/v1/files', {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'content-type': 'multipart/form-data; boundary=B' },
    } as RequestInit);
    await expectError(res, 400, { param: 'purpose' });
    expect(sent).toBeLessThan(10);
    expect(await storedFiles()).toBe(before);
  });

  it('answers 413 to a JSON body over 1 MiB, by Content-Length or while reading', async () => {
    const big = JSON.stringify({ ...valid(), metadata: { note: 'x'.repeat(2 * 1024 * 1024) } });
    const headers = { 'content-type': 'application/json' };
    await expectError(await api('/v1/batches', { method: 'POST', body: big, headers }), 413, { code: 'request_too_large' });
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res = await api('/v1/batches', { method: 'POST', body: chunked, headers, duplex: 'half' } as RequestInit);
    await expectError(res, 413, { code: 'request_too_large' });
    await expectError(await api('/v1/webhooks/dead-letter/retry', { method: 'POST', body: big, headers }), 413, { code: 'request_too_large' });
    expect(await storedBatches()).toBe(0);
  });

  it('answers 405 with an Allow header to a wrong method on a known path', async () => {
    const cases: [string, string, string][] = [
      ['/v1/batches', 'PUT', 'GET, HEAD, POST'],
      ['/v1/files/file-x', 'PATCH', 'DELETE, GET, HEAD'],
      ['/v1/files', 'DELETE', 'GET, HEAD, POST'],
      ['/v1/batches/batch_x/cancel', 'GET', 'POST'],
      ['/v1/webhooks/dead-letter/12', 'PUT', 'DELETE, GET, HEAD'],
    ];
    for (const [path, method, allow] of cases) {
      const res = await api(path, { method });
      expect(res.headers.get('allow')?.split(', ').sort().join(', ')).toBe(allow);
      await expectError(res, 405, { code: 'method_not_allowed' });
    }
    await expectError(await api('/v1/nothing-here', { method: 'PUT' }), 404);
  });
});

describe('while Postgres is unreachable', () => {
  const owner = 'db-down';
  const servers: net.Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  /** A TCP server on a free port that does `onConnection` with each client. */
  async function tcpServer(onConnection: (socket: net.Socket) => void) {
    const server = net.createServer(onConnection);
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  }

  async function closedPort() {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function expectUnavailable(pool: Pool) {
    const { api } = appOn(pool, owner);
    try {
      for (const [path, init] of [
        ['/v1/files', {}],
        ['/v1/batches/batch_x', {}],
        ['/v1/files', { method: 'POST', body: uploadForm([['purpose', 'batch'], ['file', CHAT_LINE, 'a.jsonl']]) }],
      ] as const) {
        const started = Date.now();
        const res = await api(path, init);
        expect(Date.now() - started).toBeLessThan(3_000);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        const text = await res.text();
        expect(res.status, text).toBe(503);
        const error = JSON.parse(text).error;
        expect(error).toMatchObject({ code: 'database_unavailable', type: 'server_error' });
        expect(error.message).toMatch(/database/);
      }
    } finally {
      await pool.end();
    }
  }

  it('answers 503 with Retry-After when the connection is refused', async () => {
    await expectUnavailable(createPool(`postgres://u:p@127.0.0.1:${await closedPort()}/db`, 2));
  });

  it('answers 503 when the server hangs up at once', async () => {
    const port = await tcpServer((socket) => socket.destroy());
    await expectUnavailable(createPool(`postgres://u:p@127.0.0.1:${port}/db`, 2));
  });

  it('answers 503 when connecting times out', async () => {
    const port = await tcpServer(() => undefined);
    await expectUnavailable(new pg.Pool({ connectionString: `postgres://u:p@127.0.0.1:${port}/db`, connectionTimeoutMillis: 300, max: 2 }));
  });

  it('tells an unreachable database from a failed query', () => {
    const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    for (const err of [
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('ECONNRESET'),
      new Error('Connection terminated unexpectedly'),
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed'),
      new Error('wrapped', { cause: withCode('ETIMEDOUT') }),
    ]) {
      expect(isDatabaseUnavailable(err), String(err)).toBe(true);
    }
    for (const err of [withCode('42601', 'syntax error'), withCode('23505', 'duplicate key'), new Error('boom'), 'ECONNREFUSED', null]) {
      expect(isDatabaseUnavailable(err), String(err)).toBe(false);
    }
  });
});
