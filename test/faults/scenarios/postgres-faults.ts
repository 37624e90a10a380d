import { check } from '../support/checks.js';
import type { FaultStack } from '../support/fault-stack.js';
import { progressed, storedStatus } from '../support/phases.js';
import { ScenarioRun, waitForPhase, type ScenarioResult } from '../support/scenario-run.js';
import { within } from '../support/waiting.js';

/**
 * Postgres killed (-9, postmaster and backends) for 20 s, then restarted on
 * the same data directory and port. Meanwhile the API must answer JSON 503s
 * quickly; afterwards everything must carry on by itself.
 */

const OUTAGE_MS = 20_000;
const PHASE_TIMEOUT_MS = 90_000;

export async function postgresMidBatch(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'postgres-mid-batch', 'kill -9 Postgres for 20 s with a quarter of the requests done');
  const tracked = await run.createBatch(2_000, 200);
  const id = tracked.batch.id;
  run.phaseHit = await waitForPhase(PHASE_TIMEOUT_MS, 50, () => progressed(run.api, id, 0.25));
  await run.postgresOutage(OUTAGE_MS, [`/batches/${id}`, '/files?limit=1']);
  await run.finishBatches([tracked]);
  run.checkNoCrashes();
  return run.result();
}

export async function postgresMidUpload(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'postgres-mid-upload', 'kill -9 Postgres for 20 s while a file upload streams in');
  // 80 pieces of 64 KiB, one per 100 ms: the upload is under way for 8 s.
  const upload = run.api.slowUpload(64 * 1024, 80, 100);
  run.phaseHit = await waitForPhase(30_000, 20, async () => upload.sent() >= 15);
  await run.postgresOutage(OUTAGE_MS, ['/files?limit=1', '/batches?limit=1']);
  run.recovery = { from_to: 'fault → API healthy', seconds: run.apiHealthySeconds() };
  const outcome = await upload.done;
  run.note(`the cut-off upload ended with ${outcome.status ?? outcome.error} ${outcome.text.slice(0, 120)}`);
  const listed = (await run.api.listAll<{ id: string; filename: string }>('/files', 100)).filter((f) => f.filename === 'cut-off.jsonl');
  const accepted = outcome.status === 200;
  run.checks.push(check('a cut-off upload is not listed (an accepted one is, once)', listed.length === (accepted ? 1 : 0), `upload answered ${outcome.status ?? outcome.error}; listed ${listed.length} times`));
  // Then the stack must work again end to end.
  const tracked = await run.createBatch(300, 100);
  await run.finishBatches([tracked], 'none');
  run.checkNoCrashes();
  return run.result();
}

export async function postgresMidFinalization(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'postgres-mid-finalization', 'kill -9 Postgres for 20 s while the output files are written');
  const tracked = await run.createBatch(2_000, 4_000);
  const id = tracked.batch.id;
  run.phaseHit = await waitForPhase(PHASE_TIMEOUT_MS, 10, async () => (await storedStatus(stack, id)) === 'finalizing');
  await run.postgresOutage(OUTAGE_MS, [`/batches/${id}`, '/files?limit=1']);
  await run.finishBatches([tracked]);
  run.checkNoCrashes();
  return run.result();
}

export async function postgresMidDelivery(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'postgres-mid-delivery', 'kill -9 Postgres for 20 s while the receiver holds batch.completed (then answers 200)');
  const tracked = await run.createBatch(500, 100);
  const id = tracked.batch.id;
  const held = stack.receiver.hold((r) => r.batchId === id && r.type === 'batch.completed');
  run.phaseHit = (await within(held.arrived, PHASE_TIMEOUT_MS)) !== undefined;
  // The receiver accepts the event while Postgres is down: the worker cannot record that it was delivered.
  const answer = setTimeout(() => held.answer(200), 2_000);
  await run.postgresOutage(OUTAGE_MS, [`/batches/${id}`, '/files?limit=1']);
  clearTimeout(answer);
  held.answer(200);
  await run.finishBatches([tracked], 'webhook');
  run.checkNoCrashes();
  return run.result();
}
