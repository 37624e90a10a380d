/**
 * `npm run bench:batch [-- --requests 10000 --latency 20 --concurrency 32 --large-requests 50000 --skip-large --tmpdir /dev/shm]`
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
 * (in this process). Every run reports its CPU split (Temporal server, worker,
 * Postgres, echo upstream, this process: baseline client and API) in total
 * and per request. The stack's measured batch follows a 1-line warm-up batch
 * (the worker's first workflow task builds its sandbox once per process).
 * `--trace` prints each batch's history with the time of every event.
 * Prints one JSON object and one readable line on stdout.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createUpstreamClient } from '../src/upstream/upstream-client.js';
import type { batchWorkflow } from '../src/workflows/batch-workflow.js';
import { batchWorkflowId } from '../src/workflows/workflow-ids.js';
import { startBenchApi, type BenchApi } from './support/api.js';
import { readBatchPhases } from './support/batch-phases.js';
import { runBench, say, withTimeout } from './support/cleanup.js';
import { startEchoProcess } from './support/echo-process.js';
import { cpuMsPer, describeCpuMs, pidsWithCommandLine, postgresPids, processTreePids, startCpuMeter, type CpuUsage, type PidGroups } from './support/cpu-meter.js';
import { benchTemporalKind, startBenchInfra } from './support/infra.js';
import { machine, nowMs, publishReport, round, runInLanes } from './support/measure.js';
import { historyPerRun, historyTimeline } from './support/workflow-history.js';
import type { NodeProcess } from './support/node-process.js';
import { startWorkerProcess } from './support/worker-process.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    latency: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: String(parseConfig({}).upstream.concurrency) },
    'large-requests': { type: 'string', default: '50000' },
    'skip-large': { type: 'boolean', default: false },
    // Where Postgres and Temporal's SQLite file live; /dev/shm takes the disk's fsync out of the figures.
    tmpdir: { type: 'string', default: os.tmpdir() },
    // Prints the first run's history of each batch with each event's time since the create call.
    trace: { type: 'boolean', default: false },
  },
});
const N = Number(args.requests);
const LATENCY_MS = Number(args.latency);
const C = Number(args.concurrency);
const LARGE_N = Number(args['large-requests']);
const ENDPOINT = '/v1/chat/completions';
/** Issue target: a batch through the stack at 0.95 of the plain loop's throughput. */
const TARGET_RATIO = 0.95;
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
  cpu: CpuUsage;
}

/**
 * The baseline: the project's own upstream client (same pool, semaphore and
 * retry settings as the worker), C lanes pulling bodies from one queue.
 */
async function runBaseline(upstreamUrl: string, bodies: string[], cpuGroups: PidGroups): Promise<BaselineRun> {
  const { upstream } = parseConfig({ UPSTREAM_CONCURRENCY: String(C) });
  const client = createUpstreamClient({ ...upstream, baseUrl: upstreamUrl });
  let failed = 0;
  const meter = startCpuMeter(cpuGroups);
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
  return { seconds, rps: bodies.length / seconds, failed, cpu: meter.stop() };
}

interface StackDeps {
  api: BenchApi;
  client: Client;
  pool: Pool;
  cpuGroups: PidGroups;
}

/**
 * One batch through the public surface: upload, create, await the workflow's
 * result (following continue-as-new), then check the API says `completed`
 * with every request done.
 */
async function runStackBatch({ api, client, pool, cpuGroups }: StackDeps, bodies: string[]) {
  const n = bodies.length;
  const meter = startCpuMeter(cpuGroups);
  const uploadStarted = nowMs();
  const fileId = await api.uploadJsonl(inputJsonl(bodies));
  const submittedAt = nowMs();
  const batch = await api.createBatch(fileId);
  const handle = client.workflow.getHandle<typeof batchWorkflow>(batchWorkflowId(batch.id));
  const outcome = await withTimeout(handle.result(), batchTimeoutMs(n), `batch of ${n} requests`);
  const doneAt = nowMs();
  const cpu = meter.stop();
  if (args.trace) {
    const timeline = await historyTimeline(client, batchWorkflowId(batch.id), submittedAt);
    say(`${batchWorkflowId(batch.id)}:\n${timeline.map(([ms, type]) => `  ${ms.toFixed(1).padStart(8)} ms  ${type}`).join('\n')}`);
  }

  const final = await api.getBatch(batch.id);
  if (outcome !== 'completed' || final.status !== 'completed' || final.request_counts.completed !== n) {
    throw new Error(`batch ${batch.id} ended ${outcome} / ${final.status} with counts ${JSON.stringify(final.request_counts)}`);
  }
  const phases = await readBatchPhases(pool, batch.id);
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
    cpu,
  };
}

/** The 50,000-request batch: its throughput and the history length of every run in its chain. */
async function runLargeBatch(deps: StackDeps, worker: NodeProcess) {
  const run = await runStackBatch(deps, requestBodies(LARGE_N));
  const runs = await historyPerRun(deps.client, batchWorkflowId(run.batchId));
  const maxEvents = Math.max(...runs.map((r) => r.events));
  return {
    requests: LARGE_N,
    total_seconds: round(run.seconds),
    rps: round(run.rps, 0),
    processing_rps: round(run.processingRps, 0),
    runs: runs.length,
    events_per_run: runs.map((r) => r.events),
    max_events_per_run: maxEvents,
    all_runs_below_4096: maxEvents < SUGGEST_CONTINUE_AS_NEW_EVENTS,
    worker_peak_rss_mib: round(worker.peakRssMiB(), 1),
    cpu: run.cpu,
    cpu_ms_per_request: cpuMsPer(run.cpu, LARGE_N),
  };
}

type StackRun = Awaited<ReturnType<typeof runStackBatch>>;

function buildReport(
  baselineRuns: BaselineRun[],
  stack: StackRun,
  rss: { atReady: number | undefined; afterBatch: number | undefined },
  large: Awaited<ReturnType<typeof runLargeBatch>> | null,
) {
  // The faster baseline run counts, so machine noise cannot flatter the ratio.
  const baseline = baselineRuns.reduce((best, run) => (run.rps > best.rps ? run : best));
  const ratio = stack.rps / baseline.rps;
  const processingRatio = stack.processingRps / baseline.rps;
  return {
    bench: 'batch',
    size: N >= 10_000 && large !== null ? 'full' : 'smoke',
    at: new Date().toISOString(),
    machine: machine(),
    params: { temporal: benchTemporalKind(), requests: N, echo_latency_ms: LATENCY_MS, concurrency: C, tmpdir: args.tmpdir, worker_batch_settings: parseConfig({}).batch },
    baseline: {
      rps: round(baseline.rps, 0),
      seconds: round(baseline.seconds, 3),
      cpu_ms_per_request: cpuMsPer(baseline.cpu, N),
      runs: baselineRuns.map((b) => ({ seconds: round(b.seconds, 3), rps: round(b.rps, 0), failed: b.failed, cpu: b.cpu })),
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
        // Results are stamped when flushed (every 200 results or 250 ms), so this reads a little late.
        in_progress_to_first_result: round(stack.phases.first_result_s, 3),
        last_result_to_finalizing: round(stack.phases.last_result_to_finalizing_s, 3),
        finalizing_to_completed: round(stack.phases.finalizing_s, 3),
        completed_to_result_observed: round(stack.completedToObservedSeconds, 3),
      },
      worker_peak_rss_mib: round(rss.afterBatch, 1),
      worker_peak_rss_mib_at_ready: round(rss.atReady, 1),
      cpu: stack.cpu,
      cpu_ms_per_request: cpuMsPer(stack.cpu, N),
    },
    target: { ratio: TARGET_RATIO, met: ratio >= TARGET_RATIO, processing_met: processingRatio >= TARGET_RATIO },
    large,
  };
}

function summaryLine(r: ReturnType<typeof buildReport>): string {
  const verdict = (ratio: number | null) => `${ratio?.toFixed(2)} ${ratio !== null && ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`;
  const { stack, large } = r;
  return (
    `batch of ${N} @ ${LATENCY_MS} ms, C=${C}: baseline ${r.baseline.rps} req/s; ` +
    `stack ${stack.rps} req/s submit-to-completed (ratio ${verdict(stack.ratio)} vs target ${TARGET_RATIO}), ` +
    `processing ${stack.processing_rps} req/s (ratio ${verdict(stack.processing_ratio)}); overhead +${stack.overhead_seconds} s; ` +
    `CPU/request stack ${describeCpuMs(stack.cpu_ms_per_request)}, baseline ${describeCpuMs(r.baseline.cpu_ms_per_request)}; ` +
    `worker peak RSS ${stack.worker_peak_rss_mib} MiB (${stack.worker_peak_rss_mib_at_ready} at ready); ` +
    `machine busy ${stack.cpu.machine_busy_cores} of ${r.machine.cpus} cores during the stack run ` +
    `(${stack.cpu.other_processes_cpu_seconds} CPU-s by other processes)` +
    (large
      ? `; ${large.requests} requests: ${large.total_seconds} s, ${large.runs} run(s), max ${large.max_events_per_run} events/run ` +
        `(${large.all_runs_below_4096 ? 'below' : 'NOT below'} 4096), CPU/request ${describeCpuMs(large.cpu_ms_per_request)}, ` +
        `worker peak RSS ${large.worker_peak_rss_mib} MiB`
      : '')
  );
}

await runBench(async (cleanup) => {
  say(`batch bench: ${N} requests, ${LATENCY_MS} ms echo latency, concurrency ${C}${args['skip-large'] ? '' : `, then ${LARGE_N}`}`);
  const infra = await startBenchInfra(cleanup, args.tmpdir);
  const echo = await startEchoProcess(cleanup, LATENCY_MS);
  const bodies = requestBodies(N);
  // The bench process is the baseline client and the API server; the worker joins below.
  const cpuGroups: PidGroups = {
    temporal: () => pidsWithCommandLine(infra.temporalDbFile),
    postgres: () => postgresPids(infra.postgresDataDir),
    echo: () => [echo.pid],
    bench: () => [process.pid],
  };

  say('baseline (before the stack run)');
  const baselineBefore = await runBaseline(echo.url, bodies, cpuGroups);

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
  // Start-up alone (SDK, webpack bundling of the workflows) sets a high-water mark; report it apart.
  const rssAtReady = worker.peakRssMiB();
  cpuGroups.worker = () => processTreePids([worker.pid]);
  const pool = createPool(infra.databaseUrl, 4);
  cleanup.add('bench pool', () => pool.end());
  const api = await startBenchApi(cleanup, pool, { databaseUrl: infra.databaseUrl, temporalAddress: infra.temporalAddress, taskQueue });
  const deps = { api, client, pool, cpuGroups };

  // The worker's first workflow task builds its workflow sandbox (~90 ms, once per process):
  // a 1-line batch first, so the figures are the batch's own, as the baseline's are.
  say('stack: a 1-line warm-up batch');
  await runStackBatch(deps, requestBodies(1));
  say(`stack: one batch of ${N}`);
  const stack = await runStackBatch(deps, bodies);
  const rssAfterBatch = worker.peakRssMiB();

  say('baseline (after the stack run)');
  const baselineAfter = await runBaseline(echo.url, bodies, cpuGroups);

  let large = null;
  if (!args['skip-large']) {
    say(`stack: one batch of ${LARGE_N}`);
    large = await runLargeBatch(deps, worker);
  }

  const report = buildReport([baselineBefore, baselineAfter], stack, { atReady: rssAtReady, afterBatch: rssAfterBatch }, large);
  const file = await publishReport('batch', report, summaryLine(report));
  say(`report written to ${file}`);
});
