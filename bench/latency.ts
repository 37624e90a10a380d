/**
 * `npm run bench:latency [-- --runs 50 --warmup 3 --echo-latency 0 --tmpdir /dev/shm]`
 *
 * How long does a user wait on an idle stack from creating a one-line batch
 * with a webhook until the `batch.completed` webhook reaches them, and where
 * does that time go? Runs are sequential, each: upload a 1-line file (not
 * timed), then from just before `POST /v1/batches` until the receiver has
 * the `batch.completed` body. Phases, which add up to the total:
 * - create: until `POST /v1/batches` answers;
 * - validate: until the batch is `in_progress` (in_progress_at);
 * - process: until it is `finalizing` (finalizing_at);
 * - finalize: until it is `completed` (completed_at);
 * - event: until the server records the start of the delivery workflow
 *   (the first event of its history);
 * - delivery: until the receiver has the body.
 * Batch timestamps are read from Postgres (µs) rather than the Batch object
 * (whole seconds). A phase comes out negative when its step overlapped the
 * one before (e.g. validation finishing before the POST's answer arrived).
 *
 * Baseline, same run: what a plain script doing the same work takes, one
 * request to the echo upstream and one signed POST of a completed event to the
 * same receiver, sequentially, as many times.
 *
 * Everything runs here: embedded Postgres, a headless Temporal dev server, the
 * echo upstream and the production worker as child processes, the API and the
 * receiver in this process. Prints one JSON object and one readable line on stdout.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { parseConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createUpstreamClient } from '../src/upstream/upstream-client.js';
import { signWebhook } from '../src/webhooks/webhook-signer.js';
import { eventTypeName } from '../src/workflows/contracts.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { startBenchApi, type BenchApi } from './support/api.js';
import { readBatchTimeline } from './support/batch-phases.js';
import { runBench, say, withTimeout } from './support/cleanup.js';
import { cpuMsPer, describeCpuMs, pidsWithCommandLine, postgresPids, processTreePids, startCpuMeter, type PidGroups } from './support/cpu-meter.js';
import { startEchoProcess } from './support/echo-process.js';
import { startBenchInfra } from './support/infra.js';
import { machine, nowMs, percentile, publishReport, round } from './support/measure.js';
import { startBenchReceiver } from './support/receiver.js';
import { startWorkerProcess } from './support/worker-process.js';
import { historyTimeline, workflowStartedAtMs } from './support/workflow-history.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    'echo-latency': { type: 'string', default: '0' },
    // Where Postgres and Temporal's SQLite file live; /dev/shm takes the disk's fsync out of the figures.
    tmpdir: { type: 'string', default: os.tmpdir() },
    // Prints the last run's batch and delivery histories with each event's time since the create call.
    trace: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const ECHO_LATENCY_MS = Number(args['echo-latency']);
const ENDPOINT = '/v1/chat/completions';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const RUN_TIMEOUT_MS = 60_000;
const COMPLETED = eventTypeName('completed');
const PHASES = ['create', 'validate', 'process', 'finalize', 'event', 'delivery'] as const;

type Phases = Record<(typeof PHASES)[number], number>;

/** Resolves when the receiver has a 2xx `batch.completed` for a batch id, even one that came before the wait began. */
function completedWatcher() {
  const arrived = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  return {
    seen(payload: Buffer, at: number) {
      const event = JSON.parse(payload.toString('utf8')) as { type?: string; data?: { id?: string } };
      const id = event.data?.id;
      if (event.type !== COMPLETED || !id || arrived.has(id)) return;
      arrived.set(id, at);
      waiting.get(id)?.(at);
    },
    wait(id: string): Promise<number> {
      const at = arrived.get(id);
      if (at !== undefined) return Promise.resolve(at);
      return withTimeout(new Promise<number>((resolve) => waiting.set(id, resolve)), RUN_TIMEOUT_MS, `batch.completed of ${id}`);
    },
  };
}
type Watcher = ReturnType<typeof completedWatcher>;

interface StackDeps {
  api: BenchApi;
  client: Client;
  pool: ReturnType<typeof createPool>;
  watcher: Watcher;
  receiverUrl: string;
}

/** One batch: its total from just before the create call to the receipt, and its phases. */
async function runOneBatch({ api, client, pool, watcher, receiverUrl }: StackDeps, i: number): Promise<{ total: number; phases: Phases }> {
  const body = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: `latency ${i}` }] });
  const fileId = await api.uploadJsonl(`{"custom_id":"req-${i}","method":"POST","url":"${ENDPOINT}","body":${body}}`);
  const startedAt = nowMs();
  const batch = await api.createBatch(fileId, { webhook: { url: receiverUrl, secret: SECRET, events: ['completed'] } });
  const createdAt = nowMs();
  const receivedAt = await watcher.wait(batch.id);
  const timeline = await readBatchTimeline(pool, batch.id);
  const deliveryStartedAt = await workflowStartedAtMs(client, webhookDeliveryWorkflowId(batch.id, 'completed', 1));
  if (args.trace && i === RUNS - 1) {
    for (const id of [batchWorkflowId(batch.id), webhookDeliveryWorkflowId(batch.id, 'completed', 1)]) {
      const timeline = await historyTimeline(client, id, startedAt);
      say(`${id}:\n${timeline.map(([ms, type]) => `  ${ms.toFixed(1).padStart(7)} ms  ${type}`).join('\n')}`);
    }
    say(`received at ${(receivedAt - startedAt).toFixed(1)} ms`);
  }
  return {
    total: receivedAt - startedAt,
    phases: {
      create: createdAt - startedAt,
      validate: timeline.in_progress_ms - createdAt,
      process: timeline.finalizing_ms - timeline.in_progress_ms,
      finalize: timeline.completed_ms - timeline.finalizing_ms,
      event: deliveryStartedAt - timeline.completed_ms,
      delivery: receivedAt - deliveryStartedAt,
    },
  };
}

/** The baseline: one echo request, then one signed POST of a completed event, awaited at the same receiver. */
async function runOneBaseline(upstream: ReturnType<typeof createUpstreamClient>, watcher: Watcher, receiverUrl: string, i: number): Promise<number> {
  const id = `baseline-${i}`;
  const payload = JSON.stringify({ id: `evt_${id}`, object: 'event', type: COMPLETED, created_at: Math.floor(Date.now() / 1000), data: { id } });
  const startedAt = nowMs();
  const result = await upstream.send({ path: ENDPOINT, body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: id }] }) });
  if (!result.ok) throw new Error(`baseline echo request ${i} failed`);
  const headers = signWebhook({ secret: SECRET, eventId: `evt_${id}`, eventType: COMPLETED, body: payload, timestamp: Math.floor(Date.now() / 1000) });
  const res = await request(receiverUrl, { method: 'POST', headers, body: payload });
  await res.body.dump();
  return (await watcher.wait(id)) - startedAt;
}

function stats(samples: number[]) {
  return {
    p50: round(percentile(samples, 50), 1),
    p95: round(percentile(samples, 95), 1),
    min: round(Math.min(...samples), 1),
    max: round(Math.max(...samples), 1),
  };
}

/** Runs `fn` `WARMUP` times unmeasured (numbered after the measured ones), then `RUNS` times under the CPU meter. */
async function measured<T>(what: string, cpuGroups: PidGroups, fn: (i: number) => Promise<T>) {
  say(`${what}: ${WARMUP} warm-up run(s), then ${RUNS}`);
  for (let i = 0; i < WARMUP; i++) await fn(RUNS + i);
  const meter = startCpuMeter(cpuGroups);
  const results: T[] = [];
  for (let i = 0; i < RUNS; i++) results.push(await fn(i));
  const cpu = meter.stop();
  return { results, cpu, cpu_ms_per_run: cpuMsPer(cpu, RUNS) };
}

await runBench(async (cleanup) => {
  say(`latency bench: ${RUNS} sequential 1-line batches with a webhook after ${WARMUP} warm-up(s), echo latency ${ECHO_LATENCY_MS} ms`);
  const infra = await startBenchInfra(cleanup, args.tmpdir);
  const echo = await startEchoProcess(cleanup, ECHO_LATENCY_MS);
  const connection = await Connection.connect({ address: infra.temporalAddress });
  cleanup.add('temporal client', () => connection.close());
  const client = new Client({ connection });
  const taskQueue = `bench-latency-${randomBytes(4).toString('hex')}`;
  const env = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' };
  const worker = await startWorkerProcess(cleanup, connection, {
    databaseUrl: infra.databaseUrl,
    temporalAddress: infra.temporalAddress,
    taskQueue,
    upstreamUrl: echo.url,
    upstreamConcurrency: 32,
    env,
  });
  const pool = createPool(infra.databaseUrl, 4);
  cleanup.add('bench pool', () => pool.end());
  const watcher = completedWatcher();
  const receiver = await startBenchReceiver(cleanup, {
    secret: SECRET,
    failureRate: 0,
    onReceipt: (receipt, payload) => watcher.seen(payload, receipt.at),
  });
  const api = await startBenchApi(cleanup, pool, { databaseUrl: infra.databaseUrl, temporalAddress: infra.temporalAddress, taskQueue, env });
  // This process is the API, the receiver and (for the baseline) the client.
  const cpuGroups: PidGroups = {
    temporal: () => pidsWithCommandLine(infra.temporalDbFile),
    worker: () => processTreePids([worker.pid]),
    postgres: () => postgresPids(infra.postgresDataDir),
    echo: () => [echo.pid],
    bench: () => [process.pid],
  };

  const deps = { api, client, pool, watcher, receiverUrl: receiver.url };
  const stack = await measured('stack', cpuGroups, (i) => runOneBatch(deps, i));
  const upstream = createUpstreamClient({ ...parseConfig({}).upstream, baseUrl: echo.url });
  cleanup.add('baseline upstream client', () => upstream.close());
  const baseline = await measured('baseline', cpuGroups, (i) => runOneBaseline(upstream, watcher, receiver.url, i));

  const totals = stack.results.map((r) => r.total);
  const phases = Object.fromEntries(PHASES.map((p) => [p, stats(stack.results.map((r) => r.phases[p]))])) as Record<keyof Phases, ReturnType<typeof stats>>;
  const report = {
    bench: 'latency',
    size: RUNS >= 50 ? 'full' : 'smoke',
    at: new Date().toISOString(),
    machine: machine(),
    params: { temporal: infra.temporal, runs: RUNS, warmup: WARMUP, echo_latency_ms: ECHO_LATENCY_MS, tmpdir: args.tmpdir },
    stack: { total_ms: stats(totals), phases_ms: phases, cpu: stack.cpu, cpu_ms_per_batch: stack.cpu_ms_per_run, worker_peak_rss_mib: round(worker.peakRssMiB(), 1) },
    baseline: { total_ms: stats(baseline.results), cpu: baseline.cpu, cpu_ms_per_run: baseline.cpu_ms_per_run },
    runs_ms: totals.map((t) => round(t, 1)),
  };
  const t = report.stack.total_ms;
  const summary =
    `latency, ${RUNS} sequential 1-line batches with a webhook: POST /v1/batches to batch.completed received p50 ${t.p50} ms, p95 ${t.p95} ms ` +
    `(min ${t.min}, max ${t.max}); p50 by phase: ${PHASES.map((p) => `${p} ${phases[p].p50}`).join(', ')} ms; ` +
    `baseline (echo request + signed POST) p50 ${report.baseline.total_ms.p50} ms, p95 ${report.baseline.total_ms.p95} ms; ` +
    `CPU/batch ${describeCpuMs(stack.cpu_ms_per_run)}; worker peak RSS ${report.stack.worker_peak_rss_mib} MiB`;
  say(`report written to ${await publishReport('latency', report, summary)}`);
});
