/**
 * `npm run bench:webhooks [-- --events 1000 --concurrency 32 --failure-rate 0.3 --max-attempts 3 --retry-initial 0.2 --tmpdir /dev/shm]`
 *
 * What does durable delivery (one Temporal workflow per event, attempts and
 * dead letters in Postgres) cost against a plain loop POSTing the same signed
 * bodies to the same receiver at the same concurrency? Two scenarios:
 * - a healthy receiver: throughput and event-to-receipt latency;
 * - a receiver failing 30% of attempts at random: the same figures, plus a
 *   check that every event is delivered or dead-lettered exactly once.
 *
 * Both sides run closed loops of C lanes: a lane takes the next event, and
 * takes another only when that one is settled (the baseline: 2xx or out of
 * attempts; the stack: its delivery workflow has closed). Latency is the
 * first 2xx receipt minus the moment the lane took the event (for the stack:
 * just before the workflow start request).
 *
 * Everything runs here: embedded Postgres, a headless Temporal dev server,
 * the production worker entry point as a child process, the receiver in this
 * process. Prints one JSON object and one readable line on stdout.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { Agent, request } from 'undici';
import { eventTypeName } from '../src/workflows/contracts.js';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { signWebhook } from '../src/webhooks/webhook-signer.js';
import { deliveryStartOptions } from '../src/workflows/delivery-start-options.js';
import type { WebhookDeliveryInput, WebhookDeliveryResult } from '../src/workflows/contracts.js';
import type { webhookDeliveryWorkflow } from '../src/workflows/webhook-delivery-workflow.js';
import { webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { runBench, say, withTimeout, type Cleanup } from './support/cleanup.js';
import { pidsWithCommandLine, postgresPids, startCpuMeter, type PidGroups } from './support/cpu-meter.js';
import { checkOutcomes, figures, type LoopRun, type Settled } from './support/delivery-outcomes.js';
import { startBenchInfra } from './support/infra.js';
import { machine, nowMs, publishReport, round, runInLanes } from './support/measure.js';
import { startBenchReceiver } from './support/receiver.js';
import { SEEDED_EVENT, seedWebhookEvents, type SeededEvent } from './support/seed-events.js';
import { startWorkerProcess } from './support/worker-process.js';
import { webhookRetrySettings } from '../src/webhooks/retry-settings.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    batches: { type: 'string', default: '4' },
    'failure-rate': { type: 'string', default: '0.3' },
    'max-attempts': { type: 'string', default: '3' },
    'retry-initial': { type: 'string', default: '0.2' },
    // Where Postgres and Temporal's SQLite file live; /dev/shm takes the disk's fsync out of the figures.
    tmpdir: { type: 'string', default: os.tmpdir() },
  },
});
const EVENTS = Number(args.events);
const C = Number(args.concurrency);
const FAILURE_RATE = Number(args['failure-rate']);
const MAX_ATTEMPTS = Number(args['max-attempts']);
// The service's own settings, with a short first retry so the flaky scenario takes seconds.
const CONFIG = parseConfig({ WEBHOOK_RETRY_INITIAL_SECONDS: args['retry-initial'], WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
const RETRY = webhookRetrySettings(CONFIG.webhook);
const TIMEOUT_SECONDS = CONFIG.webhook.defaultTimeoutSeconds;
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const PER_EVENT_TIMEOUT_MS = 120_000;
const LOOP_TIMEOUT_MS = 15 * 60_000;

/** Delay before retry number `attempt` (1-based), as Temporal computes it for the activity. */
const retryDelayMs = (attempt: number) =>
  1000 * Math.min(RETRY.maxIntervalSeconds, RETRY.initialSeconds * RETRY.backoff ** (attempt - 1));

/** The baseline: sign and POST each frozen body, retrying like the delivery workflow would. */
async function runBaselineLoop(url: string, events: SeededEvent[], cpuGroups: PidGroups): Promise<LoopRun> {
  const dispatcher = new Agent();
  const settled: Settled[] = new Array(events.length);
  const meter = startCpuMeter(cpuGroups);
  const started = performance.now();
  try {
    const loop = runInLanes(events, C, async (event, i) => {
      const startedAt = nowMs();
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const headers = signWebhook({
          secret: SECRET,
          eventId: event.eventId,
          eventType: eventTypeName(SEEDED_EVENT),
          body: event.payload,
          timestamp: Math.floor(Date.now() / 1000),
        });
        const res = await request(url, {
          method: 'POST',
          headers,
          body: event.payload,
          dispatcher,
          headersTimeout: TIMEOUT_SECONDS * 1000,
          bodyTimeout: TIMEOUT_SECONDS * 1000,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          settled[i] = { startedAt, outcome: 'delivered' };
          return;
        }
        if (attempt < MAX_ATTEMPTS) await delay(retryDelayMs(attempt));
      }
      settled[i] = { startedAt, outcome: 'dead_lettered' };
    });
    await withTimeout(loop, LOOP_TIMEOUT_MS, 'baseline delivery loop');
  } finally {
    await dispatcher.close();
  }
  return { seconds: (performance.now() - started) / 1000, settled, cpu: meter.stop() };
}

/** The stack: one webhookDeliveryWorkflow per event, started as the service starts them. */
async function runStackLoop(deps: ScenarioDeps, webhookUrl: string, events: SeededEvent[]): Promise<LoopRun> {
  const { client, taskQueue } = deps;
  const settled: Settled[] = new Array(events.length);
  const meter = startCpuMeter(deps.cpuGroups);
  const started = performance.now();
  const loop = runInLanes(events, C, async (event, i) => {
    const input: WebhookDeliveryInput = {
      batchId: event.batchId,
      eventId: event.eventId,
      event: SEEDED_EVENT,
      maxAttempts: MAX_ATTEMPTS,
      timeoutSeconds: TIMEOUT_SECONDS,
      retry: RETRY,
    };
    const startedAt = nowMs();
    const handle = await client.workflow.start<typeof webhookDeliveryWorkflow>('webhookDeliveryWorkflow', {
      ...deliveryStartOptions(webhookDeliveryWorkflowId(event.batchId, SEEDED_EVENT, event.seq), webhookUrl, input),
      taskQueue,
    });
    const result: WebhookDeliveryResult = await withTimeout(handle.result(), PER_EVENT_TIMEOUT_MS, `delivery of ${event.eventId}`);
    settled[i] = { startedAt, outcome: result.status };
  });
  await withTimeout(loop, LOOP_TIMEOUT_MS, 'stack delivery loop');
  return { seconds: (performance.now() - started) / 1000, settled, cpu: meter.stop() };
}

interface ScenarioDeps {
  cleanup: Cleanup;
  pool: Pool;
  client: Client;
  taskQueue: string;
  cpuGroups: PidGroups;
}

/** One receiver behaviour: fresh events, the baseline loop, then the stack, on the same receiver. */
async function runScenario(deps: ScenarioDeps, name: string, failureRate: number) {
  const receiver = await startBenchReceiver(deps.cleanup, { secret: SECRET, failureRate });
  const events = await seedWebhookEvents(deps.pool, {
    count: EVENTS,
    batches: Number(args.batches),
    webhookUrl: receiver.url,
    secret: SECRET,
    maxAttempts: MAX_ATTEMPTS,
    timeoutSeconds: TIMEOUT_SECONDS,
  });

  say(`${name}: baseline loop`);
  const baselineRun = await runBaselineLoop(receiver.url, events, deps.cpuGroups);
  const baseline = figures(events, baselineRun, receiver.take());

  say(`${name}: ${EVENTS} delivery workflows`);
  const stackRun = await runStackLoop(deps, receiver.url, events);
  const stackReceipts = receiver.take();
  const stack = figures(events, stackRun, stackReceipts);
  const checks = await checkOutcomes(deps.pool, events, stackReceipts, stackRun.settled);
  const ok =
    checks.lost === 0 &&
    checks.duplicates_in_queue === 0 &&
    checks.delivered_and_dead_lettered === 0 &&
    checks.delivered + checks.dead_lettered === checks.events &&
    checks.workflow_result_disagrees_with_receiver === 0 &&
    checks.attempts_recorded === checks.attempts_received &&
    stack.invalid_signatures === 0;
  return {
    receiver_failure_rate: failureRate,
    baseline,
    stack,
    ratio: round(stack.deliveries_per_s! / baseline.deliveries_per_s!, 3),
    checks: { ...checks, ok },
  };
}

type ScenarioReport = Awaited<ReturnType<typeof runScenario>>;

function describeScenario(label: string, s: ScenarioReport): string {
  const lat = (f: ScenarioReport['stack']) => `p50/p99 ${f.latency_ms.p50}/${f.latency_ms.p99} ms`;
  return (
    `${label}: baseline ${s.baseline.deliveries_per_s}/s (${lat(s.baseline)}), stack ${s.stack.deliveries_per_s}/s (${lat(s.stack)}), ` +
    `ratio ${s.ratio}; delivered ${s.checks.delivered}, dead-lettered ${s.checks.dead_lettered}, lost ${s.checks.lost}, ` +
    `duplicates in queue ${s.checks.duplicates_in_queue}${s.checks.ok ? '' : ' — CHECKS FAILED'}`
  );
}

await runBench(async (cleanup) => {
  say(`webhooks bench: ${EVENTS} events, concurrency ${C}, then a receiver failing ${Math.round(FAILURE_RATE * 100)}% (max ${MAX_ATTEMPTS} attempts)`);
  const infra = await startBenchInfra(cleanup, args.tmpdir);
  const connection = await Connection.connect({ address: infra.temporalAddress });
  cleanup.add('temporal client', () => connection.close());
  const client = new Client({ connection });
  const taskQueue = `bench-webhooks-${randomBytes(4).toString('hex')}`;
  const worker = await startWorkerProcess(cleanup, connection, {
    databaseUrl: infra.databaseUrl,
    temporalAddress: infra.temporalAddress,
    taskQueue,
    // Required by the worker, unused here: no batch runs.
    upstreamUrl: 'http://127.0.0.1:9',
    upstreamConcurrency: C,
    env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_INITIAL_SECONDS: String(RETRY.initialSeconds) },
  });
  const pool = createPool(infra.databaseUrl, 4);
  cleanup.add('bench pool', () => pool.end());
  // The bench process is the baseline client, the workflow starter and the receiver.
  const cpuGroups: PidGroups = {
    bench: () => [process.pid],
    worker: () => [worker.pid],
    postgres: () => postgresPids(infra.postgresDataDir),
    temporal: () => pidsWithCommandLine(infra.temporalDbFile),
  };
  const deps = { cleanup, pool, client, taskQueue, cpuGroups };

  const healthy = await runScenario(deps, 'healthy receiver', 0);
  const flaky = await runScenario(deps, 'flaky receiver', FAILURE_RATE);

  const report = {
    bench: 'webhooks',
    at: new Date().toISOString(),
    machine: machine(),
    params: { events: EVENTS, concurrency: C, tmpdir: args.tmpdir, batches: Number(args.batches), max_attempts: MAX_ATTEMPTS, retry: RETRY, attempt_timeout_seconds: TIMEOUT_SECONDS },
    worker_peak_rss_mib: round(worker.peakRssMiB(), 1),
    healthy,
    flaky,
  };
  const summary =
    `webhooks, ${EVENTS} events, C=${C} — ${describeScenario('healthy receiver', healthy)} | ` +
    describeScenario(`receiver failing ${Math.round(FAILURE_RATE * 100)}% (${MAX_ATTEMPTS} attempts)`, flaky);
  const file = await publishReport('webhooks', report, summary);
  say(`report written to ${file}`);
  if (!healthy.checks.ok || !flaky.checks.ok) throw new Error('delivery checks failed: see the report');
});
