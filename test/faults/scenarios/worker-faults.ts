import { check } from '../support/checks.js';
import type { FaultStack } from '../support/fault-stack.js';
import { activityRunning, progressed, storedStatus } from '../support/phases.js';
import { ScenarioRun, waitForPhase, type ScenarioResult } from '../support/scenario-run.js';
import { within } from '../support/waiting.js';

/**
 * kill -9 of the worker in each phase of a batch, then a new worker. The
 * batch must still end completed with every request exactly once, and the
 * webhook must still arrive.
 */

const PHASE_TIMEOUT_MS = 90_000;

async function killWorkerAndReplace(run: ScenarioRun, what: string): Promise<void> {
  run.markFault(`kill -9 worker ${what}`);
  await run.stack.killWorker();
}

export async function workerInValidating(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'worker-validating', 'kill -9 worker while it validates the input');
  // Large lines make validation (parse + insert in one transaction) last long enough to hit.
  const tracked = await run.createBatch(2_000, 6_000);
  const id = tracked.batch.id;
  const inPhase = await waitForPhase(PHASE_TIMEOUT_MS, 25, () => activityRunning(stack, id, 'validateBatchInput'));
  await killWorkerAndReplace(run, 'during validateBatchInput');
  run.phaseHit = inPhase && (await storedStatus(stack, id)) === 'validating';
  await stack.startWorker();
  await run.finishBatches([tracked]);
  run.checkNoCrashes();
  return run.result();
}

export async function workerInProgress(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'worker-in-progress', 'kill -9 worker with a quarter of the requests done');
  const tracked = await run.createBatch(2_000, 200);
  const id = tracked.batch.id;
  const inPhase = await waitForPhase(PHASE_TIMEOUT_MS, 50, () => progressed(run.api, id, 0.25));
  await killWorkerAndReplace(run, 'in_progress');
  const counts = (await run.api.getBatch(id)).request_counts;
  run.phaseHit = inPhase && counts.completed < counts.total;
  run.note(`at the kill: ${counts.completed}/${counts.total} done`);
  await stack.startWorker();
  await run.finishBatches([tracked]);
  run.checkNoCrashes();
  return run.result();
}

export async function workerInFinalizing(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'worker-finalizing', 'kill -9 worker while it writes the output files');
  // Large results make the output file several MiB, so finalizing lasts long enough to hit.
  const tracked = await run.createBatch(2_000, 4_000);
  const id = tracked.batch.id;
  const inPhase = await waitForPhase(PHASE_TIMEOUT_MS, 10, async () => (await storedStatus(stack, id)) === 'finalizing');
  await killWorkerAndReplace(run, 'in finalizing');
  run.phaseHit = inPhase && (await storedStatus(stack, id)) === 'finalizing';
  await stack.startWorker();
  await run.finishBatches([tracked]);
  run.checkNoCrashes();
  return run.result();
}

export async function workerMidDelivery(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'worker-mid-delivery', 'kill -9 worker while the receiver holds the batch.completed delivery');
  const tracked = await run.createBatch(500, 100);
  const id = tracked.batch.id;
  const held = stack.receiver.hold((r) => r.batchId === id && r.type === 'batch.completed');
  const arrived = (await within(held.arrived, PHASE_TIMEOUT_MS)) !== undefined;
  run.checks.push(check('the held delivery arrived', arrived, arrived ? '' : `no batch.completed delivery within ${PHASE_TIMEOUT_MS / 1000} s`));
  await killWorkerAndReplace(run, 'mid-delivery');
  run.phaseHit = arrived;
  // The sender is gone; answering now reaches nobody.
  held.answer(200);
  await stack.startWorker();
  await run.finishBatches([tracked], 'webhook');
  run.checkNoCrashes();
  return run.result();
}
