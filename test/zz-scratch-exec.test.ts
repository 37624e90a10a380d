import { afterAll, beforeAll, expect, it } from 'vitest';
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

it('probe: stop worker then sleep 25h', async () => {
  const fileId = await h.upload(chatLines(10, (i) => (i >= 7 ? { echo_delay_ms: 600_000 } : {})));
  const res = await h.api('/v1/batches', { method: 'POST', json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' } });
  const b = (await res.json()) as any;
  await waitFor(async () => {
    const x = (await (await h.api(`/v1/batches/${b.id}`)).json()) as any;
    return x.request_counts.completed === 7 ? x : undefined;
  }, '7 done');
  let t0 = Date.now();
  await h.stopWorker();
  console.log('stopped in', Date.now() - t0);
  t0 = Date.now();
  console.log('time before', new Date(await h.env.currentTimeMs()).toISOString());
  const sl = h.env.sleep('25h');
  for (let i = 0; i < 10; i++) { await new Promise((r) => setTimeout(r, 1000)); console.log('now', new Date(await h.env.currentTimeMs()).toISOString()); }
  await h.startWorker();
  await sl;
  console.log('slept in', Date.now() - t0, new Date(await h.env.currentTimeMs()).toISOString());
  t0 = Date.now();
  const out = await h.env.client.workflow.getHandle(`batch-${b.id}`).result();
  console.log('outcome', out, 'real ms', Date.now() - t0);
  const batch = (await (await h.api(`/v1/batches/${b.id}`)).json()) as any;
  console.log(JSON.stringify(batch));
});
