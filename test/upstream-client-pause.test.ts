import { afterEach, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../src/upstream/echo-server.js';
import { createUpstreamClient, type UpstreamClient, type UpstreamClientOptions } from '../src/upstream/upstream-client.js';

const clients: UpstreamClient[] = [];
const servers: EchoServer[] = [];

function client(overrides: Partial<UpstreamClientOptions> & { baseUrl: string }): UpstreamClient {
  const c = createUpstreamClient({ concurrency: 4, timeoutMs: 5_000, maxRetries: 5, retryBaseMs: 5, retryMaxMs: 20, pauseAfterFailures: 3, ...overrides });
  clients.push(c);
  return c;
}

async function echo(port?: number): Promise<EchoServer> {
  const server = await startEchoServer(port === undefined ? {} : { port });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop().catch(() => undefined)));
});

const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: `hi ${Math.random()}` }], ...extra });

describe('an upstream that is down', () => {
  it('after pauseAfterFailures connection errors in a row and a failed probe, gives up at once with upstreamDown, until a probe answers', async () => {
    const server = await echo();
    const port = Number(new URL(server.url).port);
    await server.stop();
    const c = client({ baseUrl: server.url });

    const first = await c.send({ path: '/v1/chat/completions', body: chat(), pauseWhenDown: true });
    expect(first).toMatchObject({ ok: false, statusCode: null, upstreamDown: true, attempts: 3, error: { code: 'connection_error' } });
    expect(c.down).toBe(true);
    // Known down: not even tried.
    expect(await c.send({ path: '/v1/chat/completions', body: chat(), pauseWhenDown: true })).toMatchObject({ ok: false, upstreamDown: true, attempts: 0 });
    expect(await c.probe()).toMatchObject({ up: false });

    // A caller that did not ask to pause spends its retries as before.
    const spent = await c.send({ path: '/v1/chat/completions', body: chat() });
    expect(spent).toMatchObject({ ok: false, attempts: 6, error: { code: 'connection_error' } });
    expect(spent).not.toHaveProperty('upstreamDown');

    const back = await echo(port);
    expect(await c.probe()).toEqual({ up: true, detail: 'answered 200' });
    expect(c.down).toBe(false);
    expect(await c.send({ path: '/v1/chat/completions', body: chat(), pauseWhenDown: true })).toMatchObject({ ok: true, attempts: 1 });
    expect(back.stats().requests).toBe(2); // the probe and the request
  });

  it('is not down while it answers the probe: a request failing 503 on its own spends its retries and fails', async () => {
    const server = await echo();
    const c = client({ baseUrl: server.url });
    const result = await c.send({ path: '/v1/chat/completions', body: chat({ echo_fail_first: 10 }), pauseWhenDown: true });
    expect(result).toMatchObject({ ok: false, statusCode: 503, attempts: 6 });
    expect(result).not.toHaveProperty('upstreamDown');
    expect(c.down).toBe(false);
  });

  it('never counts as down with pauseAfterFailures 0', async () => {
    const server = await echo();
    await server.stop();
    const c = client({ baseUrl: server.url, pauseAfterFailures: 0 });
    const result = await c.send({ path: '/v1/chat/completions', body: chat(), pauseWhenDown: true });
    expect(result).toMatchObject({ ok: false, attempts: 6 });
    expect(result).not.toHaveProperty('upstreamDown');
  });
});
