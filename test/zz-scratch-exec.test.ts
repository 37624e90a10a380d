import { afterAll, beforeAll, expect, it } from 'vitest';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.close(); });

it('probe: does time skip while a chunk activity runs?', async () => {
  const fileId = await h.upload(chatLines(3, () => ({ echo_delay_ms: 5000 })));
  const res = await h.api('/v1/batches', { method: 'POST', json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' } });
  const b = (await res.json()) as any;
  const t0 = Date.now();
  const out = await h.env.client.workflow.getHandle(`batch-${b.id}`).result();
  console.log('outcome', out, 'real ms', Date.now() - t0);
  const batch = (await (await h.api(`/v1/batches/${b.id}`)).json()) as any;
  console.log(batch.status, batch.request_counts, batch.created_at, batch.completed_at ?? batch.expired_at);
});
