import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE } from '../src/config.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

// A test server per test: once an abandoned child workflow (every delivery) outlives its
// parent, the time-skipping server may stop skipping time for the rest of its life.
let h: Harness;
beforeEach(async () => {
  h = await startHarness({ WEBHOOK_RETRY_SCHEDULE: DEFAULT_WEBHOOK_RETRY_SCHEDULE });
});
afterEach(async () => {
  await h?.close();
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * A receiver that is down (503) until a moment on the Temporal test server's
 * clock, which skips ahead through the retry waits; it records each request
 * with that clock's time.
 */
async function receiverDownUntil(answerWhileDown: number, downForMs: number) {
  const hits: { atMs: number; status: number; webhookId: string }[] = [];
  let downUntilMs = Number.POSITIVE_INFINITY;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      void h.env.currentTimeMs().then((now) => {
        const status = now < downUntilMs ? answerWhileDown : 204;
        hits.push({ atMs: now, status, webhookId: String(req.headers['webhook-id']) });
        res.writeHead(status).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    /** Starts the outage now, on the test server's clock. */
    async startOutage() {
      downUntilMs = (await h.env.currentTimeMs()) + downForMs;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function runBatchWithWebhook(webhook: Record<string, unknown>) {
  const fileId = await h.upload(chatLines(2));
  const res = await h.api('/v1/batches', {
    method: 'POST',
    json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', webhook },
  });
  const batch = (await res.json()) as { id: string };
  expect(res.status).toBe(200);
  expect(await h.env.client.workflow.getHandle(batchWorkflowId(batch.id)).result()).toBe('completed');
  const delivery = await h.env.client.workflow.getHandle(webhookDeliveryWorkflowId(batch.id, 'completed', 1)).result();
  const deadLetters = (await (await h.api(`/v1/webhooks/dead-letter?batch_id=${batch.id}`)).json()) as { data: unknown[] };
  return { delivery: delivery as { status: string; attempts: number }, deadLetters: deadLetters.data };
}

describe('the default retry schedule', () => {
  it('with the default 3 attempts, a receiver down for 30 minutes still gets the event, once', async () => {
    const receiver = await receiverDownUntil(503, 30 * MINUTE);
    try {
      await receiver.startOutage();
      const { delivery, deadLetters } = await runBatchWithWebhook({ url: receiver.url });
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 3 });
      expect(deadLetters).toEqual([]);
      expect(receiver.hits.map((hit) => hit.status)).toEqual([503, 503, 204]);
      expect(new Set(receiver.hits.map((hit) => hit.webhookId)).size).toBe(1);
      // About 0, 5 min and 2 h after the event, each wait within ±20 %.
      const [first, second, third] = receiver.hits.map((hit) => hit.atMs);
      expect(second! - first!).toBeGreaterThanOrEqual(4 * MINUTE);
      expect(second! - first!).toBeLessThanOrEqual(6 * MINUTE + 5_000);
      expect(third! - second!).toBeGreaterThanOrEqual(0.8 * 115 * MINUTE);
      expect(third! - second!).toBeLessThanOrEqual(1.2 * 115 * MINUTE + 5_000);
    } finally {
      await receiver.close();
    }
  });

  it('with max_retries 10, a receiver down for 6 hours gets the event at the fifth attempt, about 10 h in', async () => {
    const receiver = await receiverDownUntil(503, 6 * HOUR);
    try {
      await receiver.startOutage();
      const { delivery, deadLetters } = await runBatchWithWebhook({ url: receiver.url, max_retries: 10 });
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 5 });
      expect(deadLetters).toEqual([]);
      expect(receiver.hits.map((hit) => hit.status)).toEqual([503, 503, 503, 503, 204]);
      const elapsed = receiver.hits[4]!.atMs - receiver.hits[0]!.atMs;
      expect(elapsed).toBeGreaterThanOrEqual(0.8 * 10 * HOUR);
      expect(elapsed).toBeLessThanOrEqual(1.2 * 10 * HOUR);
    } finally {
      await receiver.close();
    }
  });

  it('410 Gone ends the delivery at once, into the dead-letter queue', async () => {
    const gone = await receiverDownUntil(410, 30 * MINUTE);
    try {
      await gone.startOutage();
      const { delivery, deadLetters } = await runBatchWithWebhook({ url: gone.url, max_retries: 10 });
      expect(delivery).toMatchObject({ status: 'dead_lettered', attempts: 1 });
      expect(gone.hits).toHaveLength(1);
      expect(deadLetters).toEqual([expect.objectContaining({ attempts: 1, error_message: expect.stringMatching(/410 Gone/) })]);
    } finally {
      await gone.close();
    }
  });
});
