import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../src/upstream/echo-server.js';
import { getBatch, type BatchObject } from './support/api-client.js';
import { createBatch, deliveryResult, fileLines, finishedBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

// The batch's upstream is its own echo server, which the test stops (a vLLM restart) and starts again on the same port.
let upstream: EchoServer;
let port: number;
let h: Harness;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  upstream = await startEchoServer({ latencyMs: 100 });
  port = Number(new URL(upstream.url).port);
  receiver = await startWebhookReceiver();
  h = await startHarness(
    {
      UPSTREAM_ROUTES: JSON.stringify({ '*': { base_url: upstream.url } }),
      // Three attempts, 10 to 100 ms apart: the budget is spent within a second of the outage.
      UPSTREAM_MAX_RETRIES: '2',
      UPSTREAM_PAUSE_AFTER_FAILURES: '3',
    },
    { noDefaultUpstream: true },
  );
});
afterAll(async () => {
  await h?.close();
  await upstream?.stop();
  await receiver?.close();
});

/** Polls the API: the pause happens in the upstream's time, which nothing can await. */
async function waitForBatch(id: string, done: (batch: BatchObject) => boolean, what: string): Promise<BatchObject> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const batch = await getBatch(h, id);
    if (done(batch)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} never reached: ${what}; last seen ${JSON.stringify(batch)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('an upstream that goes away mid-batch', () => {
  it('pauses the batch instead of failing its requests, and resumes it when the upstream answers again', async () => {
    const created = await createBatch(h, chatLines(60), { webhook: { url: receiver.url, events: ['paused', 'resumed', 'completed'] } });
    await waitForBatch(created.id, (b) => b.request_counts.completed >= 5, 'some requests completed');
    await upstream.stop();

    const paused = await waitForBatch(created.id, (b) => b.paused_at !== null, 'paused');
    expect(paused).toMatchObject({ status: 'in_progress', paused_at: expect.any(Number), pause_reason: expect.stringContaining('does not answer') });
    expect(paused.request_counts.completed).toBeLessThan(60);
    // Longer than every request's retry budget: nothing is written as failed while it waits.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stillPaused = await getBatch(h, created.id);
    expect(stillPaused).toMatchObject({ status: 'in_progress', paused_at: paused.paused_at, request_counts: { failed: 0 } });

    upstream = await startEchoServer({ port });
    const batch = await finishedBatch(h, created.id);
    expect(batch).toMatchObject({ status: 'completed', paused_at: null, pause_reason: null, error_file_id: null, request_counts: { total: 60, completed: 60, failed: 0 } });
    expect(batch.expires_at).toBe(created.expires_at);
    const output = await fileLines(h, batch.output_file_id!);
    expect(output.map((l) => l.custom_id).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `req-${i}`).sort());
    expect(output.every((l) => l.error === null && l.response?.status_code === 200)).toBe(true);

    // Each pause event once, delivered with the batch as it was then.
    expect(await deliveryResult(h, created.id, 'paused')).toMatchObject({ status: 'delivered' });
    expect(await deliveryResult(h, created.id, 'resumed')).toMatchObject({ status: 'delivered' });
    expect(await deliveryResult(h, created.id, 'completed')).toMatchObject({ status: 'delivered' });
    const events = receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: BatchObject });
    expect(events.map((e) => e.type).sort()).toEqual(['batch.completed', 'batch.paused', 'batch.resumed']);
    const pausedEvent = events.find((e) => e.type === 'batch.paused')!;
    expect(pausedEvent.data).toMatchObject({ status: 'in_progress', paused_at: paused.paused_at });
    expect(events.find((e) => e.type === 'batch.resumed')!.data).toMatchObject({ status: 'in_progress', paused_at: null });
  });

  it('still fails a request that the upstream refuses while it answers probes (a bad request, not an outage)', async () => {
    const created = await createBatch(h, chatLines(2, (i) => (i === 0 ? { echo_fail_first: 3 } : {})));
    const batch = await finishedBatch(h, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 1, failed: 1 } });
    const errors = await fileLines(h, batch.error_file_id!);
    expect(errors).toMatchObject([{ custom_id: 'req-0', response: { status_code: 503 } }]);
  });
});
