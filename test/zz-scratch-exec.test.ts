import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBatchWorker } from '../src/worker/create-worker.js';
import { createUpstreamClient } from '../src/upstream/upstream-client.js';
import { createWebhookDispatcher } from '../src/webhooks/url-guard.js';
import { createLogger } from '../src/shared/logger.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.close(); });

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for ' + what);
}

it('probe: closed upstream worker', async () => {
  const fileId = await h.upload(chatLines(10, (i) => (i >= 7 ? { echo_delay_ms: 600_000 } : {})));
  const res = await h.api('/v1/batches', { method: 'POST', json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' } });
  const b = (await res.json()) as any;
  await waitFor(async () => {
    const x = (await (await h.api(`/v1/batches/${b.id}`)).json()) as any;
    return x.request_counts.completed === 7 ? x : undefined;
  }, '7 done');
  await h.stopWorker();
  const upstream = createUpstreamClient({ ...h.config.upstream, baseUrl: h.echo.url });
  await upstream.close();
  const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: true });
  const worker = await createBatchWorker({ connection: h.env.nativeConnection, namespace: 'default', taskQueue: h.config.temporal.taskQueue,
    deps: { pool: h.pool, upstream, webhookDispatcher, config: h.config, log: createLogger('silent', 'x') }, shutdownGraceTime: '1s' });
  const t0 = Date.now();
  const out = await worker.runUntil(h.env.client.workflow.getHandle(`batch-${b.id}`).result());
  console.log('outcome', out, 'real ms', Date.now() - t0);
  await webhookDispatcher.close();
  const batch = (await (await h.api(`/v1/batches/${b.id}`)).json()) as any;
  console.log(JSON.stringify(batch));
  await h.startWorker();
}, 300_000);
