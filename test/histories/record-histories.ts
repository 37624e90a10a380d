/**
 * `npm run record:histories`: runs one representative execution of each
 * workflow path on the time-skipping server and writes its event history to
 * test/histories/*.json, which test/workflow-replay.test.ts replays against
 * the current workflow code. Re-record only for a deliberate, patched change
 * (see CONTRIBUTING.md); keep the old fixtures so old histories keep replaying.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { startEchoServer, type EchoServer } from '../../src/upstream/echo-server.js';
import { createUpstreamClient } from '../../src/upstream/upstream-client.js';
import { createWebhookDispatcher } from '../../src/webhooks/url-guard.js';
import { bundleWorkflows } from '../../src/worker/bundle-workflows.js';
import { retentionCleanupWorkflow } from '../../src/workflows/retention-cleanup-workflow.js';
import { toFixture } from '../support/history-fixtures.js';
import { chatLines, startHarness, type Harness } from '../support/service-harness.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const NEVER_ANSWERS = { echo_delay_ms: 600_000 };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ BATCH_CHUNK_SIZE: '2', BATCH_CONTINUE_AS_NEW_EVENTS: '50' });
});
afterAll(async () => {
  await h?.close();
});

/** Fixtures already recorded are kept (they stand for older code); HISTORY_OVERWRITE=1 replaces them. */
async function save(name: string, note: string, handle: WorkflowHandle, runId?: string) {
  const file = `${DIR}${name}.json`;
  if (existsSync(file) && process.env.HISTORY_OVERWRITE !== '1') {
    process.stderr.write(`[record-histories] kept existing ${name}.json\n`);
    return;
  }
  const target = runId ? h.env.client.workflow.getHandle(handle.workflowId, runId) : handle;
  const history = await target.fetchHistory();
  const commit = process.env.HISTORY_CODE_VERSION ?? 'working tree';
  const fixture = toFixture(history, `${note} Recorded from code version: ${commit}.`, handle.workflowId);
  await writeFile(file, `${JSON.stringify(fixture, null, 1)}\n`);
}

async function createBatch(lines: string, extra: Record<string, unknown> = {}) {
  const fileId = await h.upload(lines);
  const res = await h.api('/v1/batches', {
    method: 'POST',
    json: { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...extra },
  });
  const body = (await res.json()) as { id: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return { id: body.id, handle: h.env.client.workflow.getHandle(`batch-${body.id}`) };
}

async function waitUntil(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const batchObject = async (id: string) => (await (await h.api(`/v1/batches/${id}`)).json()) as any;

describe('record workflow histories', () => {
  it('batch completed without a webhook', async () => {
    const { handle } = await createBatch(chatLines(3));
    expect(await handle.result()).toBe('completed');
    await save('batch-completed', 'A 3-request batch, no webhook, completed.', handle);
  });

  it('batch completed with a webhook delivered on its first attempt', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const { handle } = await createBatch(chatLines(3), { webhook: { url: receiver.url } });
      expect(await handle.result()).toBe('completed');
      await save('batch-completed-with-webhook', 'A 3-request batch with a webhook, completed.', handle);
      const delivery = h.env.client.workflow.getHandle(`${handle.workflowId}/webhook/completed-1`);
      expect(await delivery.result()).toMatchObject({ status: 'delivered' });
      await save('delivery-delivered-first-attempt', 'The batch.completed delivery, answered 200 at once.', delivery);
    } finally {
      await receiver.close();
    }
  });

  it('batch whose webhook settings changed mid-run', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const { id, handle } = await createBatch(chatLines(4, (i) => (i >= 2 ? { echo_delay_ms: 1_500 } : {})), { webhook: { url: receiver.url } });
      await waitUntil(async () => (await batchObject(id)).request_counts.completed >= 2, 'two requests completed');
      const patched = await h.api(`/v1/batches/${id}/webhook`, { method: 'PATCH', json: { max_retries: 5, events: ['completed', 'failed'] } });
      expect(patched.status).toBe(200);
      expect(await handle.result()).toBe('completed');
      await save('batch-webhook-settings-changed', 'A 4-request batch whose webhook settings were changed by PATCH (the webhook-settings signal) while requests ran.', handle);
    } finally {
      await receiver.close();
    }
  });

  it('batch fanned out to its webhook and a registered endpoint', async () => {
    const receiver = await startWebhookReceiver();
    const endpointReceiver = await startWebhookReceiver();
    const created = await h.api('/v1/webhook_endpoints', { method: 'POST', json: { url: endpointReceiver.url } });
    const endpoint = (await created.json()) as { id: string };
    expect(created.status).toBe(200);
    try {
      const { handle } = await createBatch(chatLines(3), { webhook: { url: receiver.url } });
      expect(await handle.result()).toBe('completed');
      await save('batch-completed-with-endpoint-fan-out', 'A 3-request batch with a webhook and one registered endpoint, completed: the event fans out to both (patch webhook-endpoint-fan-out).', handle);
      const delivery = h.env.client.workflow.getHandle(`${handle.workflowId}/endpoint/${endpoint.id}/completed-1`);
      expect(await delivery.result()).toMatchObject({ status: 'delivered' });
      await save('delivery-to-endpoint-delivered', 'The batch.completed delivery to a registered endpoint, answered 200 at once.', delivery);
    } finally {
      // Later scenarios record batches of the same owner: they must not fan out to this endpoint.
      await h.api(`/v1/webhook_endpoints/${endpoint.id}`, { method: 'DELETE' });
      await receiver.close();
      await endpointReceiver.close();
    }
  });

  it('test event sent to a registered endpoint', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const created = await h.api('/v1/webhook_endpoints', { method: 'POST', json: { url: receiver.url } });
      const endpoint = (await created.json()) as { id: string };
      const sent = (await (await h.api(`/v1/webhook_endpoints/${endpoint.id}/test`, { method: 'POST' })).json()) as { delivery_id: string; status: string };
      expect(sent.status).toBe('delivered');
      await save('endpoint-test-event', 'A webhook.test event sent to a registered endpoint (webhookTestWorkflow), delivered.', h.env.client.workflow.getHandle(sent.delivery_id));
      // Later scenarios expect no endpoint of this owner.
      await h.api(`/v1/webhook_endpoints/${endpoint.id}`, { method: 'DELETE' });
    } finally {
      await receiver.close();
    }
  });

  it('event recorded with its targets: kept for a disabled endpoint, dead-lettered and gone with notices', async () => {
    const failing = await startWebhookReceiver(() => ({ status: 500 }));
    const gone = await startWebhookReceiver(() => ({ status: 410 }));
    const watching = await startWebhookReceiver(() => ({ status: 204 }));
    const endpoint = async (json: Record<string, unknown>) => {
      const res = await h.api('/v1/webhook_endpoints', { method: 'POST', json });
      expect(res.status).toBe(200);
      return ((await res.json()) as { id: string }).id;
    };
    const ids = [
      await endpoint({ url: failing.url, max_retries: 1 }),
      await endpoint({ url: gone.url, max_retries: 3 }),
      await endpoint({ url: failing.url, enabled: false }),
      await endpoint({ url: watching.url, events: ['webhook.dead_lettered', 'webhook_endpoint.disabled'] }),
    ];
    const [failingId, goneId] = ids as [string, string];
    try {
      const { handle } = await createBatch(chatLines(2));
      expect(await handle.result()).toBe('completed');
      await save('batch-completed-recorded-with-targets', 'A 2-request batch, no webhook, with three endpoints subscribed to completed (one disabled, which keeps the event): the event is frozen with its targets in one activity (patch webhook-event-recorded-with-targets).', handle);
      const toFailing = h.env.client.workflow.getHandle(`${handle.workflowId}/endpoint/${failingId}/completed-1`);
      const dead = (await toFailing.result()) as { status: string; deadLetterId: number };
      expect(dead.status).toBe('dead_lettered');
      await save('delivery-dead-lettered-with-notice', 'A delivery to an endpoint: its one attempt answered 500, dead-lettered, and a webhook.dead_lettered operational event started (patch webhook-operational-events).', toFailing);
      const toGone = h.env.client.workflow.getHandle(`${handle.workflowId}/endpoint/${goneId}/completed-1`);
      expect(await toGone.result()).toMatchObject({ status: 'dead_lettered', attempts: 1 });
      await save('delivery-gone-disables-endpoint', 'A delivery to an endpoint that answered 410 Gone: the endpoint is disabled, a webhook_endpoint.disabled event started, the event kept for it.', toGone);
      const notice = h.env.client.workflow.getHandle(`webhook-ops/dead-letter-${dead.deadLetterId}`);
      expect(await notice.result()).toMatchObject({ deliveries: 1 });
      await save('operational-event-dead-lettered', 'operationalEventWorkflow: a webhook.dead_lettered event frozen and sent to the one endpoint subscribed.', notice);
    } finally {
      // Later scenarios record batches of the same owner: they must not fan out to these endpoints.
      for (const id of ids) await h.api(`/v1/webhook_endpoints/${id}`, { method: 'DELETE' });
      await failing.close();
      await gone.close();
      await watching.close();
    }
  });

  it('delivery whose attempts each take one activity task', async () => {
    let hits = 0;
    const receiver = await startWebhookReceiver(() => ({ status: ++hits === 1 ? 503 : 204 }));
    try {
      const { handle } = await createBatch(chatLines(1), { webhook: { url: receiver.url, max_retries: 3 } });
      expect(await handle.result()).toBe('completed');
      const delivery = h.env.client.workflow.getHandle(`${handle.workflowId}/webhook/completed-1`);
      expect(await delivery.result()).toMatchObject({ status: 'delivered', attempts: 2 });
      await save('delivery-attempts-in-one-task', 'A batch.completed delivery whose attempts are one attemptWebhook activity each (patch webhook-attempt-one-activity): 503, then delivered after the scheduled wait.', delivery);
    } finally {
      await receiver.close();
    }
  });

  it('batch whose requests past the first window were stored while its chunks ran', async () => {
    // Chunks of 2, four at a time: validation stores 8 requests, storeRemainingRequests the other 12.
    const { handle } = await createBatch(chatLines(20));
    expect(await handle.result()).toBe('completed');
    // The run that validated and stored (with the 50-event budget, later runs continue it).
    const first = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
    await save(
      'batch-requests-stored-while-processing',
      'The first run of a 20-request batch (chunk size 2): 8 requests stored by validation, the other 12 while the first chunks ran.',
      handle,
      first ?? undefined,
    );
  });

  it('batch cancelled mid-run', async () => {
    const { id, handle } = await createBatch(chatLines(6, (i) => (i >= 2 ? NEVER_ANSWERS : {})));
    await waitUntil(async () => (await batchObject(id)).request_counts.completed >= 2, 'two requests completed');
    expect((await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(await handle.result()).toBe('cancelled');
    await save('batch-cancelled', 'A 6-request batch cancelled with 4 requests in flight.', handle);
  });

  it('batch that continued-as-new', async () => {
    const { handle } = await createBatch(chatLines(40));
    expect(await handle.result()).toBe('completed');
    const latest = await handle.describe();
    const first = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
    expect(first && first !== latest.runId).toBeTruthy();
    await save('batch-continued-as-new-first-run', 'The first run of a 20-chunk batch (chunk size 2, 50-event budget): ends in continue-as-new.', handle, first!);
    await save('batch-continued-as-new-last-run', 'The last run of the same chain: resumes and completes.', handle, latest.runId);
  });

  it('delivery dead-lettered, then retried manually and in bulk', async () => {
    const state = { down: true };
    const receiver = await startWebhookReceiver(() => ({ status: state.down ? 500 : 204 }));
    try {
      const first = await createBatch(chatLines(1), { webhook: { url: receiver.url, max_retries: 3 } });
      const second = await createBatch(chatLines(1), { webhook: { url: receiver.url, max_retries: 3 } });
      for (const batch of [first, second]) expect(await batch.handle.result()).toBe('completed');
      const deliveries = [first, second].map((b) => h.env.client.workflow.getHandle(`${b.handle.workflowId}/webhook/completed-1`));
      const results = (await Promise.all(deliveries.map((d) => d.result()))) as { status: string; deadLetterId: number }[];
      for (const r of results) expect(r.status).toBe('dead_lettered');
      await save('delivery-dead-lettered', 'The batch.completed delivery: 3 attempts answered 500, then dead-lettered.', deliveries[0]!);

      state.down = false;
      const manual = (await (await h.api(`/v1/webhooks/dead-letter/${results[0]!.deadLetterId}/retry`, { method: 'POST' })).json()) as any;
      const manualHandle = h.env.client.workflow.getHandle(manual.delivery_workflow_id);
      expect(await manualHandle.result()).toMatchObject({ status: 'delivered' });
      await save('delivery-manual-dead-letter-retry', 'A manual retry of a dead-letter entry, delivered.', manualHandle);

      const bulk = (await (
        await h.api('/v1/webhooks/dead-letter/retry', { method: 'POST', json: { batch_id: second.id } })
      ).json()) as any;
      const bulkHandle = h.env.client.workflow.getHandle(bulk.workflow_id);
      expect(await bulkHandle.result()).toEqual({ started: 1 });
      await save('dead-letter-bulk-retry', 'A bulk retry that started one delivery.', bulkHandle);
    } finally {
      await receiver.close();
    }
  });
});

// Its own time-skipping server: requests still held open by the scenarios above
// would keep the server from skipping ahead to the 24 h deadline.
describe('record the expired batch', () => {
  beforeAll(async () => {
    await h.close();
    h = await startHarness({ BATCH_CHUNK_SIZE: '2' });
  });

  it('batch expired', async () => {
    // A worker whose upstream is gone: every chunk attempt fails and is retried
    // (backoff the test server skips) until the 24 h window closes.
    await h.stopWorker();
    const upstream = createUpstreamClient({ ...h.config.upstream, baseUrl: h.echo.url });
    await upstream.close();
    const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: true });
    const worker = await Worker.create({
      connection: h.env.nativeConnection,
      namespace: 'default',
      taskQueue: h.config.temporal.taskQueue,
      workflowBundle: await bundleWorkflows(),
      activities: createActivities({ pool: h.pool, upstream, webhookDispatcher, config: h.config, log: createLogger('silent', 'record') }),
      maxCachedWorkflows: 0,
    });
    const running = worker.run();
    try {
      const { handle } = await createBatch(chatLines(2));
      expect(await handle.result()).toBe('expired');
      await save('batch-expired', 'A 2-request batch whose upstream never answered, expired after 24 h.', handle);
    } finally {
      worker.shutdown();
      await running;
      await webhookDispatcher.close();
      await h.startWorker();
    }
  });
});

describe('record the retention clean-up', () => {
  it('retention clean-up run', async () => {
    // As the retention-cleanup schedule starts it; every step runs once (nothing here is old enough to delete).
    const handle = await h.env.client.workflow.start(retentionCleanupWorkflow, {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: `retention-cleanup-${Date.now()}`,
    });
    expect(await handle.result()).toMatchObject({ unfinished: [] });
    await save('retention-cleanup', 'One run of retentionCleanupWorkflow, as the retention-cleanup schedule starts it: each clean-up activity called once.', handle);
  });
});

// Its own harness: the batch's upstream is an echo server this scenario stops and starts again.
describe('record the paused batch', () => {
  let upstream: EchoServer;
  beforeAll(async () => {
    upstream = await startEchoServer({ latencyMs: 100 });
    await h.close();
    h = await startHarness(
      { BATCH_CHUNK_SIZE: '2', UPSTREAM_ROUTES: JSON.stringify({ '*': { base_url: upstream.url } }), UPSTREAM_MAX_RETRIES: '2', UPSTREAM_PAUSE_AFTER_FAILURES: '3' },
      { noDefaultUpstream: true },
    );
  });
  afterAll(async () => {
    await upstream.stop();
  });

  it('batch paused while its upstream was down, then resumed', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const { id, handle } = await createBatch(chatLines(20), { webhook: { url: receiver.url, events: ['paused', 'resumed', 'completed'] } });
      await waitUntil(async () => (await batchObject(id)).request_counts.completed >= 2, 'some requests completed');
      const port = Number(new URL(upstream.url).port);
      await upstream.stop();
      await waitUntil(async () => (await batchObject(id)).paused_at !== null, 'the batch paused');
      upstream = await startEchoServer({ port });
      expect(await handle.result()).toBe('completed');
      await save('batch-paused-and-resumed', 'A 20-request batch whose upstream stopped mid-run: paused, probed, resumed and completed, with batch.paused and batch.resumed subscribed.', handle);
    } finally {
      await receiver.close();
    }
  });
});
