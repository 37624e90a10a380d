import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { BatchPlan } from '../activities/batch-plan.js';
import { emitLifecycleEvent, type EventCounters } from './lifecycle-emitter.js';

const { loadBatchPlan, validateBatchInput, finalizeBatch, failBatch } = proxyActivities<
  ReturnType<typeof createActivities>
>({
  startToCloseTimeout: '30m',
  retry: { maximumInterval: '1m' },
});

// Upstream errors are recorded per request, so this activity only fails on
// infrastructure trouble: retry it until the batch expires. Heartbeats carry
// cancellation and let a dead worker's chunk move elsewhere quickly.
const { processRequestRange } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '60s',
  retry: { maximumInterval: '1m' },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

export const cancelBatchSignal = defineSignal('cancel');

export interface BatchWorkflowInput {
  batchId: string;
  /** Present when this run continues an earlier one (continue-as-new). */
  resume?: {
    plan: BatchPlan;
    /** Workflow-clock time at which the completion window closes. */
    deadlineMs: number;
    total: number;
    nextLine: number;
    eventCounters: EventCounters;
    lastProgressAtMs: number;
    cancelRequested: boolean;
  };
}

export type BatchOutcome = 'completed' | 'failed' | 'cancelled' | 'expired';

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

  const plan = input.resume?.plan ?? (await loadBatchPlan({ batchId }));
  // The window opens when the batch was submitted (the workflow started), even if no worker ran it at first.
  const deadlineMs = input.resume?.deadlineMs ?? workflowInfo().startTime.getTime() + plan.completionWindowMs;
  const eventCounters: EventCounters = { ...input.resume?.eventCounters };
  const emit = (event: Parameters<typeof emitLifecycleEvent>[3]) => emitLifecycleEvent(batchId, plan, eventCounters, event);
  // Writing the files and telling the user must happen even when the workflow is being cancelled.
  const finish = (status: 'completed' | 'cancelled' | 'expired') =>
    CancellationScope.nonCancellable(async () => {
      await finalizeBatch({ batchId, status });
      await emit(status);
      return status;
    });

  try {
    let total: number;
    if (input.resume) {
      total = input.resume.total;
    } else {
      const validation = await validateBatchInput({ batchId });
      if (!validation.ok) {
        await emit('failed');
        return 'failed';
      }
      total = validation.total;
      await emit('in_progress');
    }

    const state = {
      nextLine: input.resume?.nextLine ?? 0,
      lastProgressAtMs: input.resume?.lastProgressAtMs ?? Date.now(),
    };
    const run = await processUntilDone(plan, batchId, deadlineMs, total, state, () => cancelRequested, emit);

    if (run === 'continue') {
      return await continueAsNew<typeof batchWorkflow>({
        batchId,
        resume: { plan, deadlineMs, total, ...state, eventCounters, cancelRequested },
      });
    }
    return await finish(run);
  } catch (err) {
    // continueAsNew() ends this run by throwing ContinueAsNew: not a failure, let it through.
    if (err instanceof ContinueAsNew) throw err;
    // The workflow itself was cancelled (e.g. from the Web UI): end like a user's cancel.
    if (isCancellation(err)) return await finish('cancelled');
    // Anything that escapes is a bug or a non-retryable infrastructure fault:
    // the user still gets a terminal status and a `failed` event.
    await failBatch({ batchId, message: 'The batch could not be processed because of an internal error.' });
    await emit('failed');
    return 'failed';
  }
}

type RunResult = 'completed' | 'cancelled' | 'expired' | 'continue';

/** Runs chunk activities in a bounded window until done, cancelled, expired or history is long. */
async function processUntilDone(
  plan: BatchPlan,
  batchId: string,
  deadlineMs: number,
  total: number,
  state: { nextLine: number; lastProgressAtMs: number },
  isCancelRequested: () => boolean,
  emit: (event: 'progress') => Promise<void>,
): Promise<RunResult> {
  const { chunkSize, chunkConcurrency, progressIntervalSeconds, continueAsNewEvents } = plan.tuning;
  const historyIsLong = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= continueAsNewEvents;

  let dispatching = true;
  let finished = false;
  let failure: unknown;
  const scope = new CancellationScope();
  const processing = scope
    .run(async () => {
      const inflight = new Map<number, Promise<void>>();
      for (;;) {
        while (dispatching && inflight.size < chunkConcurrency && state.nextLine < total) {
          const fromLine = state.nextLine;
          const toLine = Math.min(fromLine + chunkSize, total);
          state.nextLine = toLine;
          const chunk = processRequestRange({ batchId, endpoint: plan.endpoint, fromLine, toLine }).then(() => {
            inflight.delete(fromLine);
          });
          inflight.set(fromLine, chunk);
        }
        if (inflight.size === 0) break;
        await Promise.race(inflight.values());
        if (state.nextLine < total && Date.now() - state.lastProgressAtMs >= progressIntervalSeconds * 1000) {
          state.lastProgressAtMs = Date.now();
          await emit('progress');
        }
        if (historyIsLong()) dispatching = false;
      }
    })
    .then(
      () => {
        finished = true;
      },
      (err: unknown) => {
        finished = true;
        failure = err;
      },
    );

  const remainingMs = Math.max(0, deadlineMs - Date.now());
  let inTime: boolean;
  try {
    inTime = await condition(() => finished || isCancelRequested(), remainingMs);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Workflow cancellation reaches the chunks too; wait until they have stopped writing.
    scope.cancel();
    await processing;
    return 'cancelled';
  }
  if (!finished) {
    scope.cancel();
    await processing;
    if (failure !== undefined && !isCancellation(failure)) throw failure;
    return inTime ? 'cancelled' : 'expired';
  }
  if (failure !== undefined) throw failure;
  if (state.nextLine < total) return isCancelRequested() ? 'cancelled' : 'continue';
  return 'completed';
}
