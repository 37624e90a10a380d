import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../src/upstream/echo-server.js';
import { batchWorkflowId } from '../src/workflows/workflow-ids.js';
import { getBatch } from './support/api-client.js';
import { createBatch, fileLines, finishedBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

// Two upstreams as two routes, each answering 50 ms late so concurrent requests overlap.
const LLAMA_KEY = 'sk-llama-route-secret-1234';
let llama: EchoServer;
let mistral: EchoServer;
let h: Harness;

beforeAll(async () => {
  llama = await startEchoServer({ latencyMs: 50 });
  mistral = await startEchoServer({ latencyMs: 50 });
  h = await startHarness(
    {
      UPSTREAM_ROUTES: JSON.stringify({
        'llama-3*': { base_url: llama.url, api_key: LLAMA_KEY, concurrency: 2 },
        'mistral-7b': { base_url: mistral.url, concurrency: 3 },
      }),
      // Two chunks of 5 at once: up to 10 requests could be in flight without a route's limit.
      BATCH_CHUNK_SIZE: '5',
      BATCH_CHUNK_CONCURRENCY: '2',
    },
    { noDefaultUpstream: true },
  );
});
afterAll(async () => {
  await h?.close();
  await llama?.stop();
  await mistral?.stop();
});

const withModel = (model: string) => chatLines(10, () => ({ model }));
const requests = () => ({ llama: llama.stats().requests, mistral: mistral.stats().requests, fallback: h.echo.stats().requests });

describe('several upstreams, routed by model', () => {
  it('sends a batch to the route its model matches (a glob), within that route’s concurrency, and keeps its key out of responses and history', async () => {
    const before = requests();
    const created = await createBatch(h, withModel('llama-3.1-8b-instruct'));
    const batch = await finishedBatch(h, created.id);
    expect(batch).toMatchObject({ status: 'completed', model: 'llama-3.1-8b-instruct', request_counts: { total: 10, completed: 10, failed: 0 } });
    expect(requests()).toEqual({ ...before, llama: before.llama + 10 });
    expect(llama.stats().maxInFlight).toBe(2);

    expect(JSON.stringify(batch)).not.toContain(LLAMA_KEY);
    const history = await h.env.client.workflow.getHandle(batchWorkflowId(created.id)).fetchHistory();
    expect(Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1')).not.toContain(LLAMA_KEY);
  });

  it('sends an exactly named model to its own route, with its own concurrency limit', async () => {
    const before = requests();
    const created = await createBatch(h, withModel('mistral-7b'));
    const batch = await finishedBatch(h, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 10, completed: 10, failed: 0 } });
    expect(requests()).toEqual({ ...before, mistral: before.mistral + 10 });
    expect(mistral.stats().maxInFlight).toBe(3);
    const output = await fileLines(h, batch.output_file_id!);
    expect(output).toHaveLength(10);
  });

  it('fails a batch whose model no route serves at validation, naming the line and the model, with nothing sent', async () => {
    const before = requests();
    const created = await createBatch(h, `\n${withModel('gpt-4o')}`);
    const batch = await finishedBatch(h, created.id);
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data).toEqual([
      { code: 'model_not_found', message: expect.stringMatching(/^Line 2: model "gpt-4o" is not served here/), param: 'body.model', line: 2 },
    ]);
    expect(requests()).toEqual(before);
    expect((await getBatch(h, created.id)).request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
  });
});
