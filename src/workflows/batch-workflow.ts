import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import {
  BATCH_DATA_ERROR,
  cancelBatchSignal,
  webhookSettingsSignal,
  type BatchErrorItem,
  type BatchOutcome,
  type BatchPlan,
  type BatchWorkflowInput,
  type EventCounters,
  type FinalStatus,
} from './contracts.js';
import { emitLifecycleEvent } from './lifecycle-emitter.js';
import { processUntilDone, type RowsBeingStored } from './process-until-done.js';

type Activities = ReturnType<typeof createActivities>;

// Data errors arrive non-retryable; anything else is retried until the step's bound.
const { loadBatchPlan, failBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  // The longest completion window: a batch whose plan cannot be read for that long has expired anyway.
  scheduleToCloseTimeout: '24h',
  retry: { maximumInterval: '1m' },
});

/**
 * Validation and finalization heartbeat, so a dead worker costs one heartbeat
 * timeout; a step stuck for good ends at `untilMs` instead of holding the batch forever.
 */
const longSteps = (untilMs: number) =>
  proxyActivities<Activities>({
    scheduleToCloseTimeout: Math.max(untilMs - Date.now(), 1_000),
    heartbeatTimeout: '30s',
    retry: { maximumInterval: '1m' },
  });

// Before this patch validation stored every request before the first chunk ran.
const STORE_WHILE_PROCESSING_PATCH = 'batch-requests-stored-while-processing';

/** The API commits the batch row just after starting this workflow: a row missing for this long never comes. */
const ROW_WAIT_MS = 60_000;
/** An expired batch's files are written after its deadline: finalization always gets at least this long. */
const FINALIZE_GRACE_MS = 60 * 60 * 1000;

/** How the run ends; `failed.error` is null when the failure is already recorded (validation errors). */
type Ending = FinalStatus | { failed: BatchErrorItem | null };

/**
 * One batch: validate → in_progress → process chunks → finalizing → completed,
 * or failed / cancelled / expired. Each lifecycle event is emitted at exactly
 * one point below (`emit(...)`).
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchOutcome> {
  const { batchId } = input;
  let cancelRequested = input.resume?.cancelRequested ?? false;
  setHandler(cancelBatchSignal, () => {
    cancelRequested = true;
  });
  // Webhook settings changed through the API: events emitted from now on use them, and so does a continued run.
  let loadedPlan: BatchPlan | null = null;
  let webhookUpdate: BatchPlan['webhook'] | undefined;
  setHandler(webhookSettingsSignal, (webhook) => {
    webhookUpdate = webhook;
    if (loadedPlan) loadedPlan.webhook = webhook;
  });

  let plan: BatchPlan | null;
  try {
    // Short; a cancel that arrives meanwhile is handled by the first step after it.
    plan = input.resume?.plan ?? (await CancellationScope.nonCancellable(() => loadPlanOnceCommitted(batchId)));
  } catch (err) {
    // Without a plan there is no webhook to tell; the batch's status still says what happened.
    await CancellationScope.nonCancellable(() => failBatch({ batchId, error: batchError(err) }));
    return 'failed';
  }
  if (plan === null) return 'abandoned';
  const knownPlan = plan;
  // A change that arrived while the plan was being read may be newer than what was read.
  if (webhookUpdate !== undefined) knownPlan.webhook = webhookUpdate;
  loadedPlan = knownPlan;

  // The window opens when the batch was submitted (the workflow started), even if no worker ran it at first.
  const deadlineMs = input.resume?.deadlineMs ?? workflowInfo().startTime.getTime() + plan.completionWindowMs;
  const eventCounters: EventCounters = { ...input.resume?.eventCounters };
  const emit = (event: Parameters<typeof emitLifecycleEvent>[3]) => emitLifecycleEvent(batchId, knownPlan, eventCounters, event);

  let ending: Ending;
  let rows: RowsBeingStored | undefined;
  try {
    let total: number;
    if (input.resume) {
      total = input.resume.total;
    } else {
      // The file is validated whole, but only the first window of chunks is stored before they start.
      const storeFirst = patched(STORE_WHILE_PROCESSING_PATCH) ? plan.tuning.chunkSize * plan.tuning.chunkConcurrency : undefined;
      const validation = await longSteps(deadlineMs).validateBatchInput(storeFirst === undefined ? { batchId } : { batchId, storeFirst });
      if (!validation.ok) return await end({ failed: null });
      total = validation.total;
      if (validation.stored !== undefined && validation.stored < total) rows = storeTheRest(batchId, validation.stored, deadlineMs);
      await emit('in_progress');
    }

    const state = {
      nextLine: input.resume?.nextLine ?? 0,
      lastProgressAtMs: input.resume?.lastProgressAtMs ?? Date.now(),
    };
    const run = await processUntilDone(plan, batchId, deadlineMs, total, state, () => cancelRequested, emit, rows);

    if (run === 'continue') {
      return await continueAsNew<typeof batchWorkflow>({
        batchId,
        resume: { plan, deadlineMs, total, ...state, eventCounters, cancelRequested },
      });
    }
    ending = run;
  } catch (err) {
    // continueAsNew() ends this run by throwing ContinueAsNew: not a failure, let it through.
    if (err instanceof ContinueAsNew) throw err;
    // The workflow itself was cancelled (e.g. from the Web UI): end like a user's cancel.
    if (isCancellation(err)) ending = 'cancelled';
    // A step that ran out of the batch's time: the batch expires.
    else if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) ending = 'expired';
    else ending = { failed: batchError(err) };
  }
  return await end(ending);

  /** Writes the files (or records the failure) and tells the user, even while the workflow is being cancelled. */
  function end(how: Ending): Promise<BatchOutcome> {
    return CancellationScope.nonCancellable(async () => {
      // The files hold every request: never written while some are still being stored.
      if (rows && !rows.complete) await rows.done;
      if (typeof how === 'string' && rows?.error !== undefined) how = { failed: batchError(rows.error) };
      if (typeof how === 'string') {
        const finalizeUntil = Math.max(deadlineMs, Date.now() + FINALIZE_GRACE_MS);
        try {
          await longSteps(finalizeUntil).finalizeBatch({ batchId, status: how });
        } catch (err) {
          how = { failed: batchError(err) };
        }
      }
      if (typeof how === 'string') {
        await emit(how);
        return how;
      }
      if (how.failed) await failBatch({ batchId, error: how.failed });
      await emit('failed');
      return 'failed';
    });
  }
}

/**
 * Stores lines `fromLine`… while the chunks before them run. Not cancellable:
 * a cancelled or expired batch still writes every request into its files.
 */
function storeTheRest(batchId: string, fromLine: number, deadlineMs: number): RowsBeingStored {
  const rows: RowsBeingStored = { storedLines: fromLine, complete: false, error: undefined, done: Promise.resolve() };
  const until = Math.max(deadlineMs, Date.now() + FINALIZE_GRACE_MS);
  rows.done = CancellationScope.nonCancellable(() => longSteps(until).storeRemainingRequests({ batchId, fromLine })).then(
    () => {
      rows.complete = true;
    },
    (err: unknown) => {
      rows.complete = true;
      rows.error = err;
    },
  );
  return rows;
}

/** Loads the plan, waiting up to {@link ROW_WAIT_MS} for the batch row to be committed; null if it never is. */
async function loadPlanOnceCommitted(batchId: string): Promise<BatchPlan | null> {
  const startedAt = Date.now();
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 10_000)) {
    const plan = await loadBatchPlan({ batchId });
    if (plan !== null || Date.now() - startedAt >= ROW_WAIT_MS) return plan;
    await sleep(delayMs);
  }
}

/** The OpenAI-shaped error a failed step leaves on the batch. */
function batchError(err: unknown): BatchErrorItem {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === BATCH_DATA_ERROR) {
    return { code: 'invalid_data', message: `The batch could not be processed: ${cause.message}`, param: null, line: null };
  }
  if (cause instanceof TimeoutFailure) {
    return { code: 'timeout', message: 'A step of the batch did not finish in time.', param: null, line: null };
  }
  return { code: 'internal_error', message: 'The batch could not be processed because of an internal error.', param: null, line: null };
}
