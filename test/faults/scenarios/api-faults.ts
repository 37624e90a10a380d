import type { BatchView } from '../support/api-client.js';
import { check, checkVisibleBatchesTerminal } from '../support/checks.js';
import type { FaultStack } from '../support/fault-stack.js';
import { inputFor, round, ScenarioRun, TERMINAL_WAIT_MS, type ScenarioResult, type TrackedBatch } from '../support/scenario-run.js';
import { poll, within } from '../support/waiting.js';

/** kill -9 of the API process mid-request, restarted at once (as a supervisor would). */

async function killApiAndRestart(run: ScenarioRun, what: string): Promise<void> {
  run.markFault(`kill -9 API ${what}`);
  await run.stack.killApi();
  await run.stack.startApi();
  const healthy = await poll(60_000, 200, async () => ((await run.api.request('/files?limit=1')).status === 200 ? Date.now() : undefined));
  run.apiHealthyAt = healthy;
  run.checks.push(check('API healthy again after its restart', healthy !== undefined));
}

export async function apiMidUpload(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'api-mid-upload', 'kill -9 API while a file upload streams in');
  const { jsonl, customIds } = inputFor(run.name, 300, 100);
  const fileId = await run.api.upload(jsonl);
  // 60 pieces of 64 KiB, one per 100 ms: the upload is under way for 6 s.
  const upload = run.api.slowUpload(64 * 1024, 60, 100);
  run.phaseHit = (await poll(30_000, 20, async () => (upload.sent() >= 15 ? true : undefined))) ?? false;
  await killApiAndRestart(run, 'mid-upload');
  run.recovery = { from_to: 'fault → API healthy', seconds: run.apiHealthySeconds() };
  const outcome = await upload.done;
  run.note(`the cut-off upload ended with ${outcome.status ?? outcome.error}`);
  const files = await run.api.listAll<{ id: string; filename: string }>('/files', 100);
  const cutOff = files.filter((f) => f.filename === 'cut-off.jsonl');
  run.checks.push(check('a cut-off upload is not listed', cutOff.length === (outcome.status === 200 ? 1 : 0), `upload answered ${outcome.status ?? outcome.error}; listed ${cutOff.length} times`));
  run.checks.push(check('the finished upload is still listed', files.some((f) => f.id === fileId), `${files.length} files listed`));
  await run.finishBatches([await run.createBatchFrom(fileId, customIds)], 'none');
  run.checkNoCrashes();
  return run.result();
}

const CONCURRENT_CREATES = 40;
const LINES_PER_BATCH = 25;

export async function apiMidCreate(stack: FaultStack): Promise<ScenarioResult> {
  const run = new ScenarioRun(stack, 'api-mid-create', `kill -9 API under ${CONCURRENT_CREATES} concurrent POST /v1/batches`);
  const inputs = new Map<string, string[]>();
  for (let k = 0; k < CONCURRENT_CREATES; k++) {
    const { jsonl, customIds } = inputFor(run.name, LINES_PER_BATCH, 100, k * LINES_PER_BATCH);
    inputs.set(await run.api.upload(jsonl), customIds);
  }
  const creates = [...inputs.keys()].map((fileId) => run.api.createBatchOutcome(fileId, stack.receiver.url));
  // Kill once a quarter are answered: the others are somewhere between their first query and their answer.
  let answered = 0;
  const quarter = new Promise<void>((resolve) => {
    for (const c of creates) void c.then(() => ++answered >= CONCURRENT_CREATES / 4 && resolve());
  });
  await within(quarter, 30_000);
  await killApiAndRestart(run, `with ${answered} of ${CONCURRENT_CREATES} concurrent creates answered`);
  const outcomes = await Promise.all(creates);
  const acknowledged = outcomes.filter((o) => o.status === 200).map((o) => (JSON.parse(o.text) as BatchView).id);
  run.phaseHit = acknowledged.length < CONCURRENT_CREATES;
  run.note(`${acknowledged.length} creates answered 200, ${outcomes.length - acknowledged.length} cut off (${[...new Set(outcomes.filter((o) => o.status !== 200).map((o) => o.status ?? o.error))].join(', ')})`);

  const visible = await checkVisibleBatchesTerminal(stack, run.api, TERMINAL_WAIT_MS);
  run.checks.push(visible.check);
  if (visible.check.ok && run.faultAt !== undefined) run.recovery = { from_to: 'fault → every visible batch terminal', seconds: round((Date.now() - run.faultAt) / 1000) };
  else run.recovery = { from_to: 'fault → every visible batch terminal', seconds: null };
  const listed = new Set(visible.batches.map((b) => b.id));
  const lost = acknowledged.filter((id) => !listed.has(id));
  run.checks.push(check('every batch acknowledged with 200 is listed', lost.length === 0, `${visible.batches.length} listed; acknowledged but missing: ${lost.join(', ')}`));

  const tracked: TrackedBatch[] = visible.batches
    .filter((b) => ['completed', 'failed', 'cancelled', 'expired'].includes(b.status))
    .map((b) => ({ batch: b, customIds: inputs.get((b as BatchView & { input_file_id: string }).input_file_id) ?? [] }));
  await run.finishBatches(tracked, 'none');
  run.checkNoCrashes();
  return run.result();
}
