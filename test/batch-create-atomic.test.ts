import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createLogger } from '../src/shared/logger.js';
import { bodyOf, type BatchObject, type ListOf } from './support/api-client.js';
import { batchOutcome } from './support/batches.js';
import { ALICE_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const createBody = (inputFileId: string) => ({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' });

/**
 * A Temporal client whose `workflow.start` starts the workflow for real and
 * then throws, as if the API process died right after the start call returned.
 */
function clientThatDiesAfterStart(client: Client, started: string[]): Client {
  const workflow = new Proxy(client.workflow, {
    get(target, prop) {
      if (prop === 'start') {
        return async (...args: Parameters<Client['workflow']['start']>) => {
          const handle = await target.start(...args);
          started.push(handle.workflowId);
          throw new Error('the API process died here');
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return new Proxy(client, { get: (target, prop) => (prop === 'workflow' ? workflow : Reflect.get(target, prop, target)) });
}

describe('creating a batch is all or nothing', () => {
  it('a crash between starting the workflow and committing leaves no batch, and the workflow ends without doing anything', async () => {
    const fileId = await h.upload(chatLines(3));
    const started: string[] = [];
    const dying = createApp({ pool: h.pool, temporal: clientThatDiesAfterStart(h.env.client, started), config: h.config, log: createLogger('silent', 'test') });
    const res = await dying.request('/v1/batches', {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE_KEY}`, 'content-type': 'application/json', 'idempotency-key': 'crash-once' },
      body: JSON.stringify(createBody(fileId)),
    });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(started).toHaveLength(1);
    const batchId = started[0]!.replace(/^batch-/, '');

    // The user never sees the batch.
    expect((await h.api(`/v1/batches/${batchId}`)).status).toBe(404);
    const listed = await bodyOf<ListOf<BatchObject>>(await h.api('/v1/batches?limit=100'));
    expect(listed.data.map((b) => b.id)).not.toContain(batchId);

    // The workflow waits for a row that never commits, then gives up without writing anything.
    expect(await h.env.client.workflow.getHandle(started[0]!).result()).toBe('abandoned');
    for (const table of ['batches', 'batch_requests', 'webhook_events']) {
      const { rows } = await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${table === 'batches' ? 'id' : 'batch_id'} = $1::text`, [batchId]);
      expect(rows[0]!.n, table).toBe(0);
    }

    // Retrying with the same Idempotency-Key creates a batch that runs: the dead one was never replayed.
    const retry = await h.api('/v1/batches', { method: 'POST', json: createBody(fileId), headers: { 'idempotency-key': 'crash-once' } });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).not.toBe('true');
    const batch = await bodyOf<BatchObject>(retry);
    expect(batch.id).not.toBe(batchId);
    expect(await batchOutcome(h, batch.id)).toBe('completed');
  });

  it('concurrent creates with one Idempotency-Key make one batch and one workflow', async () => {
    const fileId = await h.upload(chatLines(2));
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => h.api('/v1/batches', { method: 'POST', json: createBody(fileId), headers: { 'idempotency-key': 'same-key' } })),
    );
    const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: await bodyOf<BatchObject>(r) })));
    expect(bodies.map((b) => b.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(bodies.map((b) => b.body.id)).size).toBe(1);
    expect(await batchOutcome(h, bodies[0]!.body.id)).toBe('completed');
  });
});
