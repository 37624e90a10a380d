/**
 * `npm run bench:webhooks [-- --events 1000 --concurrency 32 --failure-rate 0.3 --max-attempts 3 --retry-initial 0.2 --workers 1,2 --tmpdir /dev/shm]`
 * `npm run bench:webhooks -- --rate 50 --seconds 60 [--arrivals poisson|even --seed 1]`
 *
 * What does durable delivery (one Temporal workflow per event, attempts and
 * dead letters in Postgres) cost against a plain loop POSTing the same signed
 * bodies to the same receiver? Both sides deliver the same events, and every
 * scenario checks the stack's outcomes: every event delivered or dead-lettered
 * exactly once, none lost, attempts recorded = attempts received.
 *
 * Closed loop (the default): C lanes; a lane takes the next event, and takes
 * another only when that one is settled (the baseline: 2xx or out of
 * attempts; the stack: its delivery workflow has closed). Latency is the first
 * 2xx receipt minus the moment the lane took the event. Scenarios:
 * - a healthy receiver: throughput and event-to-receipt latency;
 * - a receiver failing 30% of attempts at random: the same figures;
 * - scaling: the healthy scenario's stack side again with 1, then 2 worker
 *   processes on the task queue (`--workers`, `none` to skip): deliveries/s
 *   and CPU per delivery for each count.
 *
 * Open loop (`--rate`): events arrive at a fixed rate for `--seconds`, as a
 * Poisson process (default; seeded, so both sides get the same schedule) or
 * evenly spaced, whether or not earlier ones are done; a healthy receiver.
 * Latency is the first 2xx receipt minus the time the event was due, so a
 * backlog shows as latency (no coordinated omission). Also: the rate at which
 * each side accepted events (the stack: workflow starts answered) and the
 * backlog when the last event was due.
 *
 * Every figure carries its CPU split (Temporal server, worker processes,
 * Postgres, this process: baseline client, workflow starter and receiver).
 * Everything runs here: embedded Postgres, a headless Temporal dev server,
 * the production worker entry point as child processes, the receiver in this
 * process. Prints one JSON object and one readable line on stdout.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { webhookRetrySettings } from '../src/webhooks/retry-settings.js';
import { runBench, say, type Cleanup } from './support/cleanup.js';
import { pidsWithCommandLine, postgresPids, type PidGroups } from './support/cpu-meter.js';
import { arrivalOffsetsMs, closedLoop, openLoop, type Arrivals } from './support/delivery-loops.js';
import { checkOutcomes, figures, openLoopFigures, type Settled } from './support/delivery-outcomes.js';
import { baselineSide, stackSide, type DeliverySettings } from './support/delivery-sides.js';
import { describeOpenLoop, describeScaling, describeScenario } from './support/delivery-summary.js';
import { startBenchInfra } from './support/infra.js';
import { machine, publishReport, round } from './support/measure.js';
import type { Receipt } from './support/receiver.js';
import { startBenchReceiver } from './support/receiver.js';
import { seedWebhookEvents, type SeededEvent } from './support/seed-events.js';
import { startWorkerGroup, type WorkerGroup } from './support/worker-process.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    batches: { type: 'string', default: '4' },
    'failure-rate': { type: 'string', default: '0.3' },
    'max-attempts': { type: 'string', default: '3' },
    'retry-initial': { type: 'string', default: '0.2' },
    workers: { type: 'string', default: '1,2' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    arrivals: { type: 'string', default: 'poisson' },
    seed: { type: 'string', default: '1' },
    // Where Postgres and Temporal's SQLite file live; /dev/shm takes the disk's fsync out of the figures.
    tmpdir: { type: 'string', default: os.tmpdir() },
  },
});
const EVENTS = Number(args.events);
const C = Number(args.concurrency);
const FAILURE_RATE = Number(args['failure-rate']);
const MAX_ATTEMPTS = Number(args['max-attempts']);
const WORKER_COUNTS = args.workers === 'none' ? [] : args.workers.split(',').map(Number);
const RATE = args.rate === undefined ? undefined : Number(args.rate);
const SECONDS = Number(args.seconds);
if (args.arrivals !== 'poisson' && args.arrivals !== 'even') throw new Error('--arrivals is poisson or even');
const ARRIVALS: Arrivals = args.arrivals;
if (WORKER_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--workers is a list of counts such as 1,2, or none');
// The service's own settings, with a short first retry so the flaky scenario takes seconds.
const CONFIG = parseConfig({ WEBHOOK_RETRY_INITIAL_SECONDS: args['retry-initial'], WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
const SETTINGS: DeliverySettings = {
  secret: `whsec_${randomBytes(24).toString('base64')}`,
  maxAttempts: MAX_ATTEMPTS,
  timeoutSeconds: CONFIG.webhook.defaultTimeoutSeconds,
  retry: webhookRetrySettings(CONFIG.webhook),
};
const PER_EVENT_TIMEOUT_MS = 120_000;
const LOOP_TIMEOUT_MS = 15 * 60_000;

interface ScenarioDeps {
  cleanup: Cleanup;
  pool: Pool;
  client: Client;
  taskQueue: string;
  cpuGroups: PidGroups;
  workers: WorkerGroup;
}

/** A receiver and `count` fresh events addressed to it. */
async function receiverWithEvents(deps: ScenarioDeps, failureRate: number, count: number) {
  const receiver = await startBenchReceiver(deps.cleanup, { secret: SETTINGS.secret, failureRate });
  const events = await seedWebhookEvents(deps.pool, {
    count,
    batches: Number(args.batches),
    webhookUrl: receiver.url,
    secret: SETTINGS.secret,
    maxAttempts: MAX_ATTEMPTS,
    timeoutSeconds: SETTINGS.timeoutSeconds,
  });
  return { receiver, events };
}

/** The exactly-once checks of the stack's run, and whether they all hold. */
async function checkStack(pool: Pool, events: SeededEvent[], receipts: Map<string, Receipt[]>, settled: Settled[], invalidSignatures: number) {
  const checks = await checkOutcomes(pool, events, receipts, settled);
  const ok =
    checks.lost === 0 &&
    checks.duplicates_in_queue === 0 &&
    checks.delivered_and_dead_lettered === 0 &&
    checks.delivered + checks.dead_lettered === checks.events &&
    checks.workflow_result_disagrees_with_receiver === 0 &&
    checks.attempts_recorded === checks.attempts_received &&
    invalidSignatures === 0;
  return { ...checks, ok };
}

const loopOpts = (what: string) => ({ what, timeoutMs: LOOP_TIMEOUT_MS });
const stackOf = (deps: ScenarioDeps, url: string) => stackSide(deps.client, deps.taskQueue, url, SETTINGS, PER_EVENT_TIMEOUT_MS);

/** One receiver behaviour, closed loop: fresh events, the baseline loop, then the stack, on the same receiver. */
async function runScenario(deps: ScenarioDeps, name: string, failureRate: number) {
  const { receiver, events } = await receiverWithEvents(deps, failureRate, EVENTS);
  say(`${name}: baseline loop`);
  const baselineRun = await closedLoop(baselineSide(receiver.url, SETTINGS), events, C, deps.cpuGroups, loopOpts('baseline delivery loop'));
  const baseline = figures(events, baselineRun, receiver.take());

  say(`${name}: ${EVENTS} delivery workflows`);
  const stackRun = await closedLoop(stackOf(deps, receiver.url), events, C, deps.cpuGroups, loopOpts('stack delivery loop'));
  const stackReceipts = receiver.take();
  const stack = figures(events, stackRun, stackReceipts);
  const checks = await checkStack(deps.pool, events, stackReceipts, stackRun.settled, stack.invalid_signatures);
  return {
    receiver_failure_rate: failureRate,
    baseline,
    stack,
    ratio: round(stack.deliveries_per_s! / baseline.deliveries_per_s!, 3),
    checks,
  };
}

/** The healthy closed-loop stack run again with each count of worker processes. */
async function runScaling(deps: ScenarioDeps) {
  const results = [];
  for (const count of WORKER_COUNTS) {
    await deps.workers.resize(count);
    const { receiver, events } = await receiverWithEvents(deps, 0, EVENTS);
    say(`scaling: ${EVENTS} delivery workflows on ${count} worker process(es)`);
    const run = await closedLoop(stackOf(deps, receiver.url), events, C, deps.cpuGroups, loopOpts(`stack loop on ${count} workers`));
    const receipts = receiver.take();
    const stack = figures(events, run, receipts);
    const checks = await checkStack(deps.pool, events, receipts, run.settled, stack.invalid_signatures);
    results.push({ workers: count, ...stack, workers_peak_rss_mib: deps.workers.peakRssMiB(), checks });
  }
  return results;
}

/** Open loop, healthy receiver: the same arrival schedule for the baseline, then the stack. */
async function runOpenLoopScenario(deps: ScenarioDeps, rate: number) {
  const count = Math.max(2, Math.round(rate * SECONDS));
  const offsets = arrivalOffsetsMs(count, rate, ARRIVALS, Number(args.seed));
  const { receiver, events } = await receiverWithEvents(deps, 0, count);
  say(`open loop: baseline, ${count} events at ${rate}/s (${ARRIVALS})`);
  const baselineRun = await openLoop(baselineSide(receiver.url, SETTINGS), events, offsets, deps.cpuGroups, loopOpts('baseline open loop'));
  const baselineReceipts = receiver.take();
  const baseline = { ...figures(events, baselineRun, baselineReceipts), open_loop: openLoopFigures(events, baselineRun, baselineReceipts, rate) };

  say(`open loop: stack, ${count} delivery workflows at ${rate}/s (${ARRIVALS})`);
  const stackRun = await openLoop(stackOf(deps, receiver.url), events, offsets, deps.cpuGroups, loopOpts('stack open loop'));
  const stackReceipts = receiver.take();
  const stack = { ...figures(events, stackRun, stackReceipts), open_loop: openLoopFigures(events, stackRun, stackReceipts, rate) };
  const checks = await checkStack(deps.pool, events, stackReceipts, stackRun.settled, stack.invalid_signatures);
  return { receiver_failure_rate: 0, events: count, baseline, stack, checks };
}

await runBench(async (cleanup) => {
  say(
    RATE === undefined
      ? `webhooks bench: ${EVENTS} events, concurrency ${C}, then a receiver failing ${Math.round(FAILURE_RATE * 100)}% (max ${MAX_ATTEMPTS} attempts), then ${WORKER_COUNTS.join(', ') || 'no'} worker process(es)`
      : `webhooks bench, open loop: ${RATE} events/s (${ARRIVALS}) for ${SECONDS} s`,
  );
  const infra = await startBenchInfra(cleanup, args.tmpdir);
  const connection = await Connection.connect({ address: infra.temporalAddress });
  cleanup.add('temporal client', () => connection.close());
  const client = new Client({ connection });
  const taskQueue = `bench-webhooks-${randomBytes(4).toString('hex')}`;
  const workers = startWorkerGroup(cleanup, connection, {
    databaseUrl: infra.databaseUrl,
    temporalAddress: infra.temporalAddress,
    taskQueue,
    // Required by the worker, unused here: no batch runs.
    upstreamUrl: 'http://127.0.0.1:9',
    upstreamConcurrency: C,
    env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_INITIAL_SECONDS: String(SETTINGS.retry.initialSeconds) },
  });
  await workers.resize(1);
  const pool = createPool(infra.databaseUrl, 4);
  cleanup.add('bench pool', () => pool.end());
  // The bench process is the baseline client, the workflow starter and the receiver.
  const cpuGroups: PidGroups = {
    temporal: () => pidsWithCommandLine(infra.temporalDbFile),
    worker: () => workers.pids(),
    postgres: () => postgresPids(infra.postgresDataDir),
    bench: () => [process.pid],
  };
  const deps = { cleanup, pool, client, taskQueue, cpuGroups, workers };
  const common = {
    at: new Date().toISOString(),
    machine: machine(),
    params: {
      temporal: infra.temporal,
      tmpdir: args.tmpdir,
      batches: Number(args.batches),
      max_attempts: MAX_ATTEMPTS,
      retry: SETTINGS.retry,
      attempt_timeout_seconds: SETTINGS.timeoutSeconds,
      ...(RATE === undefined ? { events: EVENTS, concurrency: C, workers: WORKER_COUNTS } : { rate: RATE, seconds: SECONDS, arrivals: ARRIVALS, seed: Number(args.seed) }),
    },
  };

  try {
    if (RATE !== undefined) {
      const healthy = await runOpenLoopScenario(deps, RATE);
      const report = { bench: 'webhooks-open-loop', size: SECONDS >= 60 ? 'full' : 'smoke', ...common, worker_peak_rss_mib: workers.peakRssMiB()[0], healthy };
      const summary = `webhooks open loop, ${RATE}/s ${ARRIVALS} for ${SECONDS} s (${healthy.events} events) — ${describeOpenLoop(healthy)}`;
      say(`report written to ${await publishReport('webhooks-open-loop', report, summary)}`);
      if (!healthy.checks.ok) throw new Error('delivery checks failed: see the report');
      return;
    }

    const healthy = await runScenario(deps, 'healthy receiver', 0);
    const flaky = await runScenario(deps, 'flaky receiver', FAILURE_RATE);
    // Before scaling adds workers: the one worker that ran both scenarios.
    const workerPeakRss = workers.peakRssMiB()[0];
    const scaling = await runScaling(deps);
    const report = { bench: 'webhooks', size: EVENTS >= 1000 ? 'full' : 'smoke', ...common, worker_peak_rss_mib: workerPeakRss, healthy, flaky, scaling };
    const summary =
      `webhooks, ${EVENTS} events, C=${C}, worker peak RSS ${workerPeakRss} MiB — ${describeScenario('healthy receiver', healthy)} | ` +
      describeScenario(`receiver failing ${Math.round(FAILURE_RATE * 100)}% (${MAX_ATTEMPTS} attempts)`, flaky) +
      (scaling.length > 0 ? ` | ${describeScaling(scaling)}` : '');
    say(`report written to ${await publishReport('webhooks', report, summary)}`);
    if (![healthy, flaky, ...scaling].every((s) => s.checks.ok)) throw new Error('delivery checks failed: see the report');
  } catch (err) {
    say(`worker output:\n${workers.tails()}`);
    throw err;
  }
});
