import { setTimeout as delay } from 'node:timers/promises';
import { webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { check } from '../faults/support/checks.js';
import { progressed, storedStatus } from '../faults/support/phases.js';
import { inputFor, round, type ScenarioResult, ScenarioRun, type TrackedBatch, waitForPhase } from '../faults/support/scenario-run.js';
import { poll, within } from '../faults/support/waiting.js';
import { checkDeliveriesFindable, workerRunningActivity } from './support/cluster-checks.js';
import { API_PROCESSES, asFaultStack, type ClusterStack } from './support/cluster-stack.js';

/**
 * One run on the cluster: batches with webhooks created through both API
 * processes (uploaded through one, created through the other), processed by
 * three workers, while a worker (in each phase), the Temporal server and
 * Postgres are killed with SIGKILL. Each scenario reuses test/faults'
 * ScenarioRun for its bookkeeping and checks, and adds the visibility check.
 */

const PHASE_TIMEOUT_MS = 90_000;
const TEMPORAL_DOWN_MS = 5_000;
const POSTGRES_OUTAGE_MS = 20_000;

export type Scenario = (stack: ClusterStack) => Promise<ScenarioResult>;

/** `count` batches of `lines` requests; batch k is uploaded through API k and created through API k+1. */
async function createAcrossApis(run: ScenarioRun, stack: ClusterStack, count: number, lines: number, paddingBytes: number, first = 0): Promise<TrackedBatch[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, k) => {
      const { jsonl, customIds } = inputFor(run.name, lines, paddingBytes, (first + k) * lines);
      const fileId = await stack.clientVia(run.name, first + k).upload(jsonl);
      const batch = await stack.clientVia(run.name, first + k + 1).createBatch(fileId, stack.receiver.url);
      run.note(`batch ${batch.id}: ${lines} requests, uploaded via api-${(first + k) % API_PROCESSES}, created via api-${(first + k + 1) % API_PROCESSES}`);
      return { batch, customIds };
    }),
  );
}

async function finish(run: ScenarioRun, stack: ClusterStack, tracked: TrackedBatch[], recoverBy: 'batch' | 'webhook' | 'none' = 'batch'): Promise<ScenarioResult> {
  await run.finishBatches(tracked, recoverBy);
  run.checks.push(await checkDeliveriesFindable(stack, tracked.map((t) => t.batch.id)));
  run.checkNoCrashes();
  return run.result();
}

/** Kills the worker running an activity of `workflowId` (waiting, bounded, until one does), then starts a replacement. */
async function killWorkerRunning(run: ScenarioRun, stack: ClusterStack, workflowId: string, activityType: string | undefined, what: string): Promise<boolean> {
  const found = await poll(PHASE_TIMEOUT_MS, 25, () => workerRunningActivity(stack, workflowId, activityType));
  if (!found) {
    run.note(`no worker found running ${activityType ?? 'an activity'} of ${workflowId}: nothing killed`);
    return false;
  }
  run.markFault(`kill -9 ${found.worker.name} (pid ${found.worker.process.pid}) running ${found.activity} ${what}`);
  await stack.killWorker(found.worker);
  await stack.startWorker();
  run.note(`replacement worker started ${round((Date.now() - run.faultAt!) / 1000)} s after the kill`);
  return true;
}

export async function baseline(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'baseline', 'none: 3 batches of 1,000 across both API processes');
  const started = Date.now();
  const tracked = await createAcrossApis(run, stack, 3, 1_000, 100);
  const result = await finish(run, stack, tracked, 'none');
  run.note(`all batches terminal and webhooks settled ${round((Date.now() - started) / 1000)} s after the first upload`);
  return { ...result, notes: run.notes };
}

export async function workerValidating(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'worker-validating', 'kill -9 the worker running validateBatchInput');
  // Large lines make validation last long enough to hit.
  const tracked = await createAcrossApis(run, stack, 1, 2_000, 6_000);
  const id = tracked[0]!.batch.id;
  const killed = await killWorkerRunning(run, stack, `batch-${id}`, 'validateBatchInput', 'in validating');
  run.phaseHit = killed && (await storedStatus(asFaultStack(stack), id)) === 'validating';
  return finish(run, stack, tracked);
}

export async function workerInProgress(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'worker-in-progress', 'kill -9 a worker running a chunk, a quarter of the requests done');
  const tracked = await createAcrossApis(run, stack, 2, 1_500, 200);
  const id = tracked[0]!.batch.id;
  const inPhase = await waitForPhase(PHASE_TIMEOUT_MS, 50, () => progressed(run.api, id, 0.25));
  const killed = await killWorkerRunning(run, stack, `batch-${id}`, 'processRequestRange', 'in in_progress');
  const counts = (await run.api.getBatch(id)).request_counts;
  run.note(`at the kill: ${counts.completed}/${counts.total} done`);
  run.phaseHit = inPhase && killed && counts.completed < counts.total;
  return finish(run, stack, tracked);
}

export async function workerFinalizing(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'worker-finalizing', 'kill -9 the worker writing the output files');
  // Large results make the output file several MiB, so finalizing lasts long enough to hit.
  const tracked = await createAcrossApis(run, stack, 1, 2_000, 4_000);
  const id = tracked[0]!.batch.id;
  const inPhase = await waitForPhase(PHASE_TIMEOUT_MS, 10, async () => (await storedStatus(asFaultStack(stack), id)) === 'finalizing');
  const killed = await killWorkerRunning(run, stack, `batch-${id}`, undefined, 'in finalizing');
  run.phaseHit = inPhase && killed && (await storedStatus(asFaultStack(stack), id)) === 'finalizing';
  return finish(run, stack, tracked);
}

export async function workerMidDelivery(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'worker-mid-delivery', 'kill -9 the worker sending batch.completed while the receiver holds it');
  const tracked = await createAcrossApis(run, stack, 1, 500, 100);
  const id = tracked[0]!.batch.id;
  const held = stack.receiver.hold((r) => r.batchId === id && r.type === 'batch.completed');
  const arrived = (await within(held.arrived, PHASE_TIMEOUT_MS)) !== undefined;
  run.checks.push(check('the held delivery arrived', arrived, arrived ? '' : `no batch.completed delivery within ${PHASE_TIMEOUT_MS / 1000} s`));
  const { rows } = await stack.pool.query<{ seq: number }>(`SELECT seq FROM webhook_events WHERE batch_id = $1::text AND type = 'completed'`, [id]);
  const deliveryId = rows[0] ? webhookDeliveryWorkflowId(id, 'completed', rows[0].seq) : '';
  const killed = arrived && !!deliveryId && (await killWorkerRunning(run, stack, deliveryId, undefined, 'mid-delivery'));
  run.phaseHit = killed;
  // The sender is gone; answering now reaches nobody.
  held.answer(200);
  return finish(run, stack, tracked, 'webhook');
}

export async function temporalMidBatch(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'temporal-mid-batch', `kill -9 temporal-server mid-batch, restart after ${TEMPORAL_DOWN_MS / 1000} s`);
  const tracked = await createAcrossApis(run, stack, 2, 1_500, 200);
  const id = tracked[0]!.batch.id;
  run.phaseHit = await waitForPhase(PHASE_TIMEOUT_MS, 50, () => progressed(run.api, id, 0.25));
  run.markFault('kill -9 temporal-server');
  await stack.killTemporal();
  await delay(TEMPORAL_DOWN_MS);
  await stack.cluster.temporal.start();
  run.note(`temporal-server serving again ${round((Date.now() - run.faultAt!) / 1000)} s after the kill`);
  await run.restoreStack();
  return finish(run, stack, tracked);
}

export async function postgresMidBatch(stack: ClusterStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(asFaultStack(stack), 'postgres-mid-batch', `kill -9 Postgres (service and Temporal databases) for ${POSTGRES_OUTAGE_MS / 1000} s mid-batch`);
  const tracked = await createAcrossApis(run, stack, 2, 1_500, 200);
  const id = tracked[0]!.batch.id;
  run.phaseHit = await waitForPhase(PHASE_TIMEOUT_MS, 50, () => progressed(run.api, id, 0.25));
  await run.postgresOutage(POSTGRES_OUTAGE_MS, [`/batches/${id}`, '/files?limit=1']);
  run.note(`temporal-server ${stack.cluster.temporal.running() ? 'survived the outage' : 'was down after the outage'}`);
  return finish(run, stack, tracked);
}
