import { setTimeout as delay } from 'node:timers/promises';
import type { FaultStack } from '../support/fault-stack.js';
import { progressed } from '../support/phases.js';
import { round, ScenarioRun, waitForPhase, type ScenarioResult } from '../support/scenario-run.js';

const DOWN_MS = 5_000;

/** kill -9 of the Temporal dev server mid-batch, restarted on the same SQLite file and port. */
export async function temporalMidBatch(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'temporal-mid-batch', `kill -9 Temporal dev server mid-batch, restart after ${DOWN_MS / 1000} s`);
  const tracked = await run.createBatch(2_000, 200);
  const id = tracked.batch.id;
  run.phaseHit = await waitForPhase(90_000, 50, () => progressed(run.api, id, 0.25));
  run.markFault('kill -9 Temporal');
  await stack.killTemporal();
  await delay(DOWN_MS);
  await stack.temporal.start();
  run.note(`Temporal serving again ${round((Date.now() - run.faultAt!) / 1000)} s after the kill`);
  await run.restoreStack();
  await run.finishBatches([tracked]);
  run.checkNoCrashes();
  return run.result();
}
