import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createActivities } from '../src/activities/index.js';
import { createApp } from '../src/api/app.js';
import { saveFinishedRequests } from '../src/db/batch-requests.js';
import { addRequestCounts } from '../src/db/batches.js';
import { inTransaction } from '../src/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { expectError, getBatch, type BatchObject } from './support/api-client.js';
import { batchOutcome, createBatch, fileLines, finishedBatch } from './support/batches.js';
import { ALICE_KEY, startHarness, type Harness } from './support/service-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

type Usage = BatchObject['usage'];
const NO_USAGE: Usage = { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };

const line = (customId: string, url: string, body: Record<string, unknown>) => JSON.stringify({ custom_id: customId, method: 'POST', url, body });

/**
 * Chat requests with a 4-token system prompt (the echo counts it as cached)
 * and a 2-token question; every other one asks for medium reasoning effort,
 * which the echo answers with 2 × 2 reasoning tokens.
 */
const chatRequests = (n: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: n }, (_, i) =>
    line(`req-${i}`, '/v1/chat/completions', {
      model: 'echo-usage',
      messages: [
        { role: 'system', content: 'answer in one line' },
        { role: 'user', content: `hello ${i}` },
      ],
      ...(i % 2 === 0 ? { reasoning_effort: 'medium' } : {}),
      ...extra(i),
    }),
  ).join('\n');

/** What the echo reports for `chatRequests(n)`, summed by hand. */
function expectedChatUsage(n: number): Usage {
  const reasoning = 4 * Math.ceil(n / 2);
  const output = 2 * n + reasoning;
  return {
    input_tokens: 6 * n,
    input_tokens_details: { cached_tokens: 4 * n },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: 6 * n + output,
  };
}

type AnyUsage = {
  prompt_tokens?: number;
  completion_tokens?: number;
  input_tokens?: number;
  output_tokens?: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
  input_tokens_details?: { cached_tokens: number };
  output_tokens_details?: { reasoning_tokens: number };
};

/** The sum of the `usage` in the batch's output lines, mapped to the Batch object's shape. */
async function usageInOutput(batch: BatchObject): Promise<Usage> {
  const sum = structuredClone(NO_USAGE);
  for (const l of await fileLines<{ usage?: AnyUsage }>(h, batch.output_file_id!)) {
    const u = l.response!.body.usage;
    if (!u) continue;
    sum.input_tokens += u.prompt_tokens ?? u.input_tokens ?? 0;
    sum.output_tokens += u.completion_tokens ?? u.output_tokens ?? 0;
    sum.total_tokens += u.total_tokens;
    sum.input_tokens_details.cached_tokens += (u.prompt_tokens_details ?? u.input_tokens_details)?.cached_tokens ?? 0;
    sum.output_tokens_details.reasoning_tokens += (u.completion_tokens_details ?? u.output_tokens_details)?.reasoning_tokens ?? 0;
  }
  return sum;
}

/** Runs `fn` with the harness worker replaced by one whose chunk activity is `wrap`ped. */
const withWorker = (
  wrap: (real: ReturnType<typeof createActivities>['processRequestRange']) => ReturnType<typeof createActivities>['processRequestRange'],
  fn: () => Promise<void>,
) => h.withWorker((real) => ({ processRequestRange: wrap(real.processRequestRange) }), fn);

describe("a batch's model and usage", () => {
  it('are null and zero before validation, then the file\'s model and the exact sum of every answer\'s usage', async () => {
    let created!: BatchObject;
    await h.stopWorker();
    try {
      created = await createBatch(h, chatRequests(15));
      expect(created).toMatchObject({ status: 'validating', model: null, usage: NO_USAGE, retried_from: null, retries: [] });
    } finally {
      await h.startWorker();
    }
    const batch = await finishedBatch(h, created.id);
    expect(batch).toMatchObject({ status: 'completed', model: 'echo-usage', request_counts: { total: 15, completed: 15, failed: 0 } });
    expect(batch.usage).toEqual(expectedChatUsage(15));
    expect(await usageInOutput(batch)).toEqual(batch.usage);
  });

  it('counts only the answers that succeeded', async () => {
    const batch = await finishedBatch(h, (await createBatch(h, chatRequests(6, (i) => (i >= 4 ? { echo_status: 400 } : {})))).id);
    expect(batch.request_counts).toEqual({ total: 6, completed: 4, failed: 2 });
    expect(batch.usage).toEqual(expectedChatUsage(4));
  });

  it('maps the responses API and embeddings as OpenAI does', async () => {
    const responses = [
      line('r-0', '/v1/responses', { model: 'echo-r', instructions: 'be brief', input: 'one two three', reasoning: { effort: 'high' } }),
      line('r-1', '/v1/responses', { model: 'echo-r', input: [{ role: 'developer', content: 'terse' }, { role: 'user', content: 'four five' }] }),
    ].join('\n');
    const r = await finishedBatch(h, (await createBatch(h, responses, { endpoint: '/v1/responses' })).id);
    // r-0: 2 instruction + 3 input tokens, 3 echoed + 12 reasoning; r-1: 1 + 2 input, 2 echoed.
    expect(r).toMatchObject({ status: 'completed', model: 'echo-r' });
    expect(r.usage).toEqual({ input_tokens: 8, input_tokens_details: { cached_tokens: 3 }, output_tokens: 17, output_tokens_details: { reasoning_tokens: 12 }, total_tokens: 25 });
    expect(await usageInOutput(r)).toEqual(r.usage);

    const embeddings = [
      line('e-0', '/v1/embeddings', { model: 'echo-embed', input: 'three little words' }),
      line('e-1', '/v1/embeddings', { model: 'echo-embed', input: ['a b', 'c'] }),
    ].join('\n');
    const e = await finishedBatch(h, (await createBatch(h, embeddings, { endpoint: '/v1/embeddings' })).id);
    expect(e).toMatchObject({ status: 'completed', model: 'echo-embed' });
    expect(e.usage).toEqual({ ...NO_USAGE, input_tokens: 6, total_tokens: 6 });
  });

  /** The batch's live counters beside the sums over its saved rows, read in one snapshot. */
  async function liveCountersAndRows(batchId: string) {
    const { rows } = await h.pool.query(
      `SELECT b.completed_count AS live_completed, b.usage_input_tokens::float8 AS live_input, b.usage_output_tokens::float8 AS live_output,
              b.usage_total_tokens::float8 AS live_total, b.usage_cached_tokens::float8 AS live_cached, b.usage_reasoning_tokens::float8 AS live_reasoning,
              (SELECT count(*)::int FROM batch_requests r WHERE r.batch_id = b.id AND r.state = 'completed') AS rows_completed,
              (SELECT COALESCE(sum(input_tokens), 0)::float8 FROM batch_requests r WHERE r.batch_id = b.id) AS rows_input,
              (SELECT COALESCE(sum(output_tokens), 0)::float8 FROM batch_requests r WHERE r.batch_id = b.id) AS rows_output,
              (SELECT COALESCE(sum(total_tokens), 0)::float8 FROM batch_requests r WHERE r.batch_id = b.id) AS rows_total,
              (SELECT COALESCE(sum(cached_tokens), 0)::float8 FROM batch_requests r WHERE r.batch_id = b.id) AS rows_cached,
              (SELECT COALESCE(sum(reasoning_tokens), 0)::float8 FROM batch_requests r WHERE r.batch_id = b.id) AS rows_reasoning
         FROM batches b WHERE b.id = $1::text`,
      [batchId],
    );
    const r = rows[0];
    return {
      live: [r.live_completed, r.live_input, r.live_output, r.live_total, r.live_cached, r.live_reasoning],
      rows: [r.rows_completed, r.rows_input, r.rows_output, r.rows_total, r.rows_cached, r.rows_reasoning],
    };
  }

  it('counts each request once when a chunk fails after saving its results and is retried', async () => {
    const attempts: { fromLine: number; attempt: number; saved: number }[] = [];
    const snapshots: Awaited<ReturnType<typeof liveCountersAndRows>>[] = [];
    let id!: string;
    const sentBefore = h.echo.stats().requests;
    await withWorker(
      (real) => async (input) => {
        const { attempt } = Context.current().info;
        const result = await real(input);
        attempts.push({ fromLine: input.fromLine, attempt, saved: result.saved });
        // While the batch runs, its live counters are exactly the sums over the rows saved so far.
        snapshots.push(await liveCountersAndRows(input.batchId));
        // The results are stored; the attempt is lost anyway (as when a worker dies before reporting it).
        if (attempt === 1) throw ApplicationFailure.retryable('lost after saving its results', 'ChunkLost');
        return result;
      },
      async () => {
        id = (await createBatch(h, chatRequests(15))).id;
        expect(await batchOutcome(h, id)).toBe('completed');
      },
    );
    // Three chunks of 5, each saved everything on its first attempt and nothing on its second.
    expect(attempts.sort((a, b) => a.fromLine - b.fromLine || a.attempt - b.attempt)).toEqual(
      [0, 5, 10].flatMap((fromLine) => [
        { fromLine, attempt: 1, saved: 5 },
        { fromLine, attempt: 2, saved: 0 },
      ]),
    );
    expect(h.echo.stats().requests - sentBefore).toBe(15);
    expect(snapshots).toHaveLength(6);
    for (const { live, rows } of snapshots) expect(live).toEqual(rows);
    const batch = await getBatch(h, id);
    expect(batch.request_counts).toEqual({ total: 15, completed: 15, failed: 0 });
    expect(batch.usage).toEqual(expectedChatUsage(15));
    expect(await usageInOutput(batch)).toEqual(batch.usage);
  });

  it('adds nothing when a straggling attempt saves results a retry already saved', async () => {
    // Lines 2-4 never answer while the test runs, so the batch stays in progress with those rows pending.
    const id = (await createBatch(h, chatRequests(5, (i) => (i >= 2 ? { echo_delay_ms: 600_000 } : {})))).id;
    for (let i = 0; i < 600 && (await getBatch(h, id)).request_counts.completed < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const save = (line: number) =>
      inTransaction(h.pool, async (client) => {
        const usage = { inputTokens: 6, outputTokens: 2, totalTokens: 8, cachedTokens: 4, reasoningTokens: 0 };
        const changed = await saveFinishedRequests(client, id, [{ line, state: 'completed', resultLine: JSON.stringify({ custom_id: `req-${line}` }), usage }]);
        await addRequestCounts(client, id, changed.completed, changed.failed, changed.usage);
        return changed;
      });
    // Two attempts of the chunk (one on a partitioned worker) both got line 2's answer.
    expect((await save(2)).usage.totalTokens).toBe(8);
    expect(await save(2)).toEqual({ completed: 0, failed: 0, usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, cachedTokens: 0, reasoningTokens: 0 } });
    const running = await getBatch(h, id);
    expect(running.request_counts.completed).toBe(3);
    // Lines 0-1 as the echo answered them, plus line 2's usage once.
    const once = { input_tokens: 6, input_tokens_details: { cached_tokens: 4 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 8 };
    const twoLines = expectedChatUsage(2);
    expect(running.usage).toEqual({
      input_tokens: twoLines.input_tokens + once.input_tokens,
      input_tokens_details: { cached_tokens: twoLines.input_tokens_details.cached_tokens + once.input_tokens_details.cached_tokens },
      output_tokens: twoLines.output_tokens + once.output_tokens,
      output_tokens_details: { reasoning_tokens: twoLines.output_tokens_details.reasoning_tokens },
      total_tokens: twoLines.total_tokens + once.total_tokens,
    });
    const { live, rows } = await liveCountersAndRows(id);
    expect(live).toEqual(rows);

    expect((await h.api(`/v1/batches/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(await batchOutcome(h, id)).toBe('cancelled');
    expect((await getBatch(h, id)).usage).toEqual(running.usage);
  });

  it('counts each request once when its worker is stopped mid-chunk and the chunk moves to the next worker', async () => {
    let id!: string;
    await withWorker(
      (real) => real,
      async () => {
        // Lines 3-4 of each chunk answer only after 3 s, longer than the worker's 1 s shutdown grace.
        id = (await createBatch(h, chatRequests(15, (i) => (i % 5 >= 3 ? { echo_delay_ms: 3_000 } : {})))).id;
        for (let i = 0; i < 1200 && (await getBatch(h, id)).request_counts.completed < 3; i++) await new Promise((r) => setTimeout(r, 50));
      },
    );
    // Stopped with requests in flight; the harness worker, back, finishes what was handed back.
    expect((await getBatch(h, id)).request_counts.completed).toBeLessThan(15);
    expect(await batchOutcome(h, id)).toBe('completed');
    const batch = await getBatch(h, id);
    expect(batch.request_counts).toEqual({ total: 15, completed: 15, failed: 0 });
    expect(batch.usage).toEqual(expectedChatUsage(15));
    expect(await usageInOutput(batch)).toEqual(batch.usage);
  });
});

describe('one model per input file', () => {
  it('fails a file that mixes models with a line error naming each line, and sends nothing', async () => {
    const lines = [
      line('a', '/v1/chat/completions', { model: 'echo', messages: [{ role: 'user', content: 'hi' }] }),
      line('b', '/v1/chat/completions', { model: 'echo', messages: [{ role: 'user', content: 'hi' }] }),
      line('c', '/v1/chat/completions', { model: 'echo-2', messages: [{ role: 'user', content: 'hi' }] }),
      line('d', '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }),
    ].join('\n');
    const sentBefore = h.echo.stats().requests;
    const batch = await finishedBatch(h, (await createBatch(h, lines)).id);
    expect(batch).toMatchObject({ status: 'failed', model: null, usage: NO_USAGE, request_counts: { total: 0, completed: 0, failed: 0 } });
    expect(batch.errors!.data).toEqual([
      { code: 'model_mismatch', line: 3, param: 'body.model', message: expect.stringMatching(/^Line 3: model "echo-2" differs from model "echo" of line 1/) },
      { code: 'model_mismatch', line: 4, param: 'body.model', message: expect.stringMatching(/^Line 4: no model differs/) },
    ]);
    expect(h.echo.stats().requests).toBe(sentBefore);
  });
});

describe('batch endpoints', () => {
  it('runs a moderations batch', async () => {
    const lines = [
      line('m-0', '/v1/moderations', { model: 'omni-moderation-latest', input: 'have a nice day' }),
      line('m-1', '/v1/moderations', { model: 'omni-moderation-latest', input: 'I will kill the process' }),
      line('m-2', '/v1/moderations', { model: 'omni-moderation-latest', input: ['fine', 'what a stupid idea'] }),
    ].join('\n');
    const batch = await finishedBatch(h, (await createBatch(h, lines, { endpoint: '/v1/moderations' })).id);
    expect(batch).toMatchObject({ status: 'completed', endpoint: '/v1/moderations', model: 'omni-moderation-latest', request_counts: { total: 3, completed: 3, failed: 0 } });
    // Moderations report no usage.
    expect(batch.usage).toEqual(NO_USAGE);
    type Moderation = { id: string; model: string; results: { flagged: boolean; categories: Record<string, boolean>; category_scores: Record<string, number> }[] };
    const output = await fileLines<Moderation>(h, batch.output_file_id!);
    expect(output.map((l) => [l.custom_id, l.response!.body.results.map((r) => r.flagged)])).toEqual([
      ['m-0', [false]],
      ['m-1', [true]],
      ['m-2', [false, true]],
    ]);
    const flagged = output[1]!.response!.body;
    expect(flagged).toMatchObject({ id: expect.stringMatching(/^modr-/), model: 'omni-moderation-latest' });
    expect(flagged.results[0]!.categories).toMatchObject({ violence: true, harassment: false });
    expect(output[2]!.response!.body.results[1]!.categories.harassment).toBe(true);
  });

  it("refuses an endpoint the upstream does not serve with a 400 naming endpoint, and one that is not OpenAI's", async () => {
    const fileId = await h.upload(line('x', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a cat' }));
    const create = (app: Pick<Harness, 'api'>, endpoint: string) =>
      app.api('/v1/batches', { method: 'POST', json: { input_file_id: fileId, endpoint, completion_window: '24h' } });
    const error = await expectError(await create(h, '/v1/images/generations'), 400, { param: 'endpoint', code: 'unsupported_endpoint' });
    expect(error.message).toContain('/v1/images/generations');
    await expectError(await create(h, '/v1/audio/speech'), 400, { param: 'endpoint', code: 'invalid_value' });

    // UPSTREAM_ENDPOINTS decides: an upstream serving chat only refuses moderations.
    const chatOnly = createApp({
      pool: h.pool,
      temporal: h.env.client,
      config: { ...h.config, upstream: { ...h.config.upstream, endpoints: ['/v1/chat/completions'] } },
      log: createLogger('silent', 'test'),
    });
    const api: Pick<Harness, 'api'> = {
      api: async (path, init = {}) =>
        chatOnly.request(path, { method: init.method, headers: { authorization: `Bearer ${ALICE_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(init.json) }),
    };
    await expectError(await create(api, '/v1/moderations'), 400, { param: 'endpoint', code: 'unsupported_endpoint' });
  });
});
