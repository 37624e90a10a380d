import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let h: Harness;
let proxy: TcpProxy;
beforeAll(async () => {
  proxy = await startTcpProxy(inject('databaseUrl'));
  // Four chunks of 10 run at once: all 40 requests are in flight together.
  h = await startHarness({ BATCH_CHUNK_SIZE: '10', BATCH_CHUNK_CONCURRENCY: '4' }, { workerDatabaseUrl: proxy.url });
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

async function until(what: string, check: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Postgres unreachable for the worker while requests are in flight', () => {
  it('keeps the answers and saves them once Postgres is back: nothing is sent upstream twice', async () => {
    const fileId = await h.upload(chatLines(40, () => ({ echo_delay_ms: 1_500 })));
    const before = h.echo.stats().requests;
    const res = await h.api('/v1/batches', {
      method: 'POST',
      json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' },
    });
    const batch = (await res.json()) as { id: string };
    await until('all 40 requests to be sent', () => h.echo.stats().requests - before >= 40);

    // The answers arrive while the worker cannot reach Postgres.
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    proxy.restore();

    expect(await h.env.client.workflow.getHandle(`batch-${batch.id}`).result()).toBe('completed');
    expect(h.echo.stats().requests - before).toBe(40);
    const done = (await (await h.api(`/v1/batches/${batch.id}`)).json()) as { request_counts: unknown; output_file_id: string };
    expect(done.request_counts).toEqual({ total: 40, completed: 40, failed: 0 });
    const lines = (await (await h.api(`/v1/files/${done.output_file_id}/content`)).text()).trim().split('\n');
    expect(new Set(lines.map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)).size).toBe(40);
  });
});
