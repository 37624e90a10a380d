/**
 * `npm run bench:batch [-- --requests 10000 --latency 20 --concurrency 32 --large-requests 50000 --skip-large]`
 *
 * How close does a batch through the whole stack (HTTP API → Temporal
 * workflow → worker activities → Postgres) come to a plain client loop that
 * sends the same request bodies to the same echo upstream at the same
 * concurrency? Then: does a 50,000-request batch keep every run's history
 * below Temporal's continue-as-new suggestion (4,096 events)?
 *
 * Everything runs on this machine in temp dirs: embedded Postgres, a headless
 * Temporal dev server, the echo upstream (own process), the production worker
 * entry point (own process, so its peak RSS can be read) and the API server
 * (in this process). Prints one JSON object and one readable line on stdout.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createUpstreamClient } from '../src/upstream/upstream-client.js';
import type { batchWorkflow } from '../src/workflows/batch-workflow.js';
import { batchWorkflowId } from '../src/workflows/workflow-ids.js';
import { startBenchApi, type BenchApi } from './support/api.js';
import { runBench, say, withTimeout } from './support/cleanup.js';
import { startEchoProcess } from './support/echo-process.js';
import { startBenchInfra } from './support/infra.js';
import { machine, nowMs, publishReport, round, runInLanes } from './support/measure.js';
import { historyPerRun } from './support/workflow-history.js';
import { startWorkerProcess } from './support/worker-process.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    latency: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: String(parseConfig({}).upstream.concurrency) },
    'large-requests': { type: 'string', default: '50000' },
    'skip-large': { type: 'boolean', default: false },
  },
});
const N = Number(args.requests);
const LATENCY_MS = Number(args.latency);
const C = Number(args.concurrency);
const LARGE_N = Number(args['large-requests']);
const ENDPOINT = '/v1/chat/completions';
const TARGET_RATIO = 0.9;
const SUGGEST_CONTINUE_AS_NEW_EVENTS = 4_096;

/** Generous bound per batch: a stuck run fails the bench instead of hanging it. */
const batchTimeoutMs = (n: number) => 60_000 + n * 10;

/** The request bodies both sides send, byte for byte (the stack stores `JSON.stringify(body)`). */
function requestBodies(n: number): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: `hello ${i}` }] }));
}

function inputJsonl(bodies: string[]): string {
  return bodies.map((body, i) => `{"custom_id":"req-${i}","method":"POST","url":"${ENDPOINT}","body":${body}}`).join('\n');
}

interface BaselineRun {
  seconds: number;
  rps: number;
  failed: number;
}

/**
 * The baseline: the project's own upstream client (same pool, semaphore and
 * retry settings as the worker), C lanes pulling bodies from one queue.
 */
async function runBaseline(upstreamUrl: string, bodies: string[]): Promise<BaselineRun> {
  const { upstream } = parseConfig({ UPSTREAM_CONCURRENCY: String(C) });
  const client = createUpstreamClient({ ...upstream, baseUrl: upstreamUrl });
  let failed = 0;
  const started = performance.now();
  try {
    const loop = runInLanes(bodies, C, async (body) => {
      const result = await client.send({ path: ENDPOINT, body });
      if (!result.ok) failed += 1;
    });
    await withTimeout(loop, batchTimeoutMs(bodies.length), 'baseline loop');
  } finally {
    await client.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rps: bodies.length / seconds, failed };
}

/** Phase durations from the batch row and its requests, at Postgres' µs precision. */
async function readPhases(pool: Pool, batchId: string) {
  const { rows } = await pool.query<{
    created_ms: number;
    completed_ms: number;
    queued_s: number;
    processing_s: number;
    finalizing_s: number;
    first_result_s: number;
    last_result_to_finalizing_s: number;
  }>(
    `SELECT extract(epoch FROM b.created_at)::float8 * 1000 AS created_ms,
            extract(epoch FROM b.completed_at)::float8 * 1000 AS completed_ms,
            extract(epoch FROM b.in_progress_at - b.created_at)::float8 AS queued_s,
            extract(epoch FROM b.finalizing_at - b.in_progress_at)::float8 AS processing_s,
            extract(epoch FROM b.completed_at - b.finalizing_at)::float8 AS finalizing_s,
            extract(epoch FROM r.first_at - b.in_progress_at)::float8 AS first_result_s,
            extract(epoch FROM b.finalizing_at - r.last_at)::float8 AS last_result_to_finalizing_s
       FROM batches b,
            (SELECT min(finished_at) AS first_at, max(finished_at) AS last_at
               FROM batch_requests WHERE batch_id = $1::text) r
      WHERE b.id = $1::text`,
    [batchId],
  );
  return rows[0]!;
}

interface StackDeps {
  api: BenchApi;
  client: Client;
  pool: Pool;
}

/**
 * One batch through the public surface: upload, create, await the workflow's
 * result (following continue-as-new), then check the API says `completed`
 * with every request done.
 */
async function runStackBatch({ api, client, pool }: StackDeps, bodies: string[]) {
  const n = bodies.length;
  const uploadStarted = nowMs();
  const fileId = await api.uploadJsonl(inputJsonl(bodies));
  const submittedAt = nowMs();
  const batch = await api.createBatch(fileId);
  const handle = client.workflow.getHandle<typeof batchWorkflow>(batchWorkflowId(batch.id));
  const outcome = await withTimeout(handle.result(), batchTimeoutMs(n), `batch of ${n} requests`);
  const doneAt = nowMs();

  const final = await api.getBatch(batch.id);
  if (outcome !== 'completed' || final.status !== 'completed' || final.request_counts.completed !== n) {
    throw new Error(`batch ${batch.id} ended ${outcome} / ${final.status} with counts ${JSON.stringify(final.request_counts)}`);
  }
  const phases = await readPhases(pool, batch.id);
  const seconds = (doneAt - submittedAt) / 1000;
  return {
    batchId: batch.id,
    uploadSeconds: (submittedAt - uploadStarted) / 1000,
    seconds,
    rps: n / seconds,
    processingRps: n / phases.processing_s,
    phases,
    // completed_at is stamped when the finalize transaction begins; this is the rest until the result is seen.
    completedToObservedSeconds: (doneAt - phases.completed_ms) / 1000,
  };
}

await runBench(async (cleanup) => {
  say(`batch bench: ${N} requests, ${LATENCY_MS} ms echo latency, concurrency ${C}${args['skip-large'] ? '' : `, then ${LARGE_N}`}`);
  const infra = await startBenchInfra(cleanup);
  const echo = await startEchoProcess(cleanup, LATENCY_MS);
  const bodies = requestBodies(N);

  say('baseline (before the stack run)');
  const baselineBefore = await runBaseline(echo.url, bodies);

  const connection = await Connection.connect({ address: infra.temporalAddress });
  cleanup.add('temporal client', () => connection.close());
  const client = new Client({ connection });
  const taskQueue = `bench-batch-${randomBytes(4).toString('hex')}`;
  const worker = await startWorkerProcess(cleanup, connection, {
    databaseUrl: infra.databaseUrl,
    temporalAddress: infra.temporalAddress,
    taskQueue,
    upstreamUrl: echo.url,
    upstreamConcurrency: C,
  });
  const pool = createPool(infra.databaseUrl, 4);
  cleanup.add('bench pool', () => pool.end());
  const api = await startBenchApi(cleanup, pool, { databaseUrl: infra.databaseUrl, temporalAddress: infra.temporalAddress, taskQueue });

  say(`stack: one batch of ${N}`);
  const stack = await runStackBatch({ api, client, pool }, bodies);
  const rssAfterBatch = worker.peakRssMiB();

  say('baseline (after the stack run)');
  const baselineAfter = await runBaseline(echo.url, bodies);
  // The faster baseline run counts, so machine noise cannot flatter the ratio.
  const baseline = baselineBefore.rps >= baselineAfter.rps ? baselineBefore : baselineAfter;

  let large: Record<string, unknown> | null = null;
  if (!args['skip-large']) {
    say(`stack: one batch of ${LARGE_N}`);
    const run = await runStackBatch({ api, client, pool }, requestBodies(LARGE_N));
    const runs = await historyPerRun(client, batchWorkflowId(run.batchId));
    const maxEvents = Math.max(...runs.map((r) => r.events));
    large = {
      requests: LARGE_N,
      total_seconds: round(run.seconds),
      rps: round(run.rps, 0),
      processing_rps: round(run.processingRps, 0),
      runs: runs.length,
      events_per_run: runs.map((r) => r.events),
      max_events_per_run: maxEvents,
      all_runs_below_4096: maxEvents < SUGGEST_CONTINUE_AS_NEW_EVENTS,
      worker_peak_rss_mib: round(worker.peakRssMiB(), 1),
    };
  }

  const ratio = stack.rps / baseline.rps;
  const processingRatio = stack.processingRps / baseline.rps;
  const defaults = parseConfig({});
  const report = {
    bench: 'batch',
    at: new Date().toISOString(),
    machine: machine(),
    params: { requests: N, echo_latency_ms: LATENCY_MS, concurrency: C, worker_batch_settings: defaults.batch },
    baseline: {
      rps: round(baseline.rps, 0),
      seconds: round(baseline.seconds, 3),
      runs: [baselineBefore, baselineAfter].map((b) => ({ seconds: round(b.seconds, 3), rps: round(b.rps, 0), failed: b.failed })),
    },
    stack: {
      batch_id: stack.batchId,
      upload_seconds: round(stack.uploadSeconds, 3),
      submit_to_completed_seconds: round(stack.seconds, 3),
      rps: round(stack.rps, 0),
      processing_seconds: round(stack.phases.processing_s, 3),
      processing_rps: round(stack.processingRps, 0),
      ratio: round(ratio, 3),
      processing_ratio: round(processingRatio, 3),
      overhead_seconds: round(stack.seconds - baseline.seconds, 3),
      phases_seconds: {
        created_to_in_progress: round(stack.phases.queued_s, 3),
        in_progress_to_first_result: round(stack.phases.first_result_s, 3),
        last_result_to_finalizing: round(stack.phases.last_result_to_finalizing_s, 3),
        finalizing_to_completed: round(stack.phases.finalizing_s, 3),
        completed_to_result_observed: round(stack.completedToObservedSeconds, 3),
      },
      worker_peak_rss_mib: round(rssAfterBatch, 1),
    },
    target: { ratio: TARGET_RATIO, met: ratio >= TARGET_RATIO, processing_met: processingRatio >= TARGET_RATIO },
    large,
  };

  const verdict = (r: number) => `${r.toFixed(2)} ${r >= TARGET_RATIO ? 'met' : 'NOT met'}`;
  const summary =
    `batch of ${N} @ ${LATENCY_MS} ms, C=${C}: baseline ${baseline.rps.toFixed(0)} req/s; ` +
    `stack ${stack.rps.toFixed(0)} req/s submit-to-completed (ratio ${verdict(ratio)} vs target ${TARGET_RATIO}), ` +
    `processing ${stack.processingRps.toFixed(0)} req/s (ratio ${verdict(processingRatio)}); ` +
    `overhead +${(stack.seconds - baseline.seconds).toFixed(2)} s; worker peak RSS ${rssAfterBatch?.toFixed(0)} MiB` +
    (large
      ? `; ${LARGE_N} requests: ${large.total_seconds} s, ${large.runs} run(s), max ${large.max_events_per_run} events/run ` +
        `(${large.all_runs_below_4096 ? 'below' : 'NOT below'} 4096), worker peak RSS ${large.worker_peak_rss_mib} MiB`
      : '');
  const file = await publishReport('batch', report, summary);
  say(`report written to ${file}`);
});
