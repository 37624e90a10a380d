import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { BatchPlan } from './contracts.js';
import { waitForUpstream } from './wait-for-upstream.js';

// Upstream errors are recorded per request, so this activity only fails on
// infrastructure trouble: retry it until the batch expires. Heartbeats carry
// cancellation and let a dead worker's chunk move elsewhere quickly. The SDK
// sends heartbeats at most every 0.8 × heartbeatTimeout, which also bounds how
// long a cancel takes to reach a running chunk.
const { processRequestRange } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '30s',
  retry: { maximumInterval: '1m' },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

type RunResult = 'completed' | 'cancelled' | 'expired' | 'continue';

/** Requests past the first `storedLines` lines, still being stored while the first chunks run. */
export interface RowsBeingStored {
  storedLines: number;
  complete: boolean;
  /** Why storing failed; the batch cannot go on without those rows. */
  error: unknown;
  /** Settles (never rejects) once storing has ended either way. */
  done: Promise<void>;
}

// Before this patch a down upstream failed every request it held; after it the batch pauses.
const PAUSE_PATCH = 'batch-pause-when-upstream-down';

/**
 * Runs chunk activities in a bounded window until done, cancelled, expired or
 * history is long. A chunk that finds the upstream down stops early; once no
 * chunk runs, the batch waits for the upstream (waitForUpstream) and goes on
 * from the first chunk that stopped (ranges already done find nothing pending).
 */
export async function processUntilDone(
  plan: BatchPlan,
  batchId: string,
  deadlineMs: number,
  total: number,
  state: { nextLine: number; lastProgressAtMs: number },
  isCancelRequested: () => boolean,
  emit: (event: 'progress' | 'paused' | 'resumed') => Promise<void>,
  rows?: RowsBeingStored,
): Promise<RunResult> {
  const pauseWhenDown = patched(PAUSE_PATCH);
  const { chunkSize, chunkConcurrency, progressIntervalSeconds, continueAsNewEvents } = plan.tuning;
  const historyIsLong = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= continueAsNewEvents;

  let dispatching = true;
  let finished = false;
  let failure: unknown;
  /** Set by chunks that stopped because the upstream is down: where to go on from, and why. */
  let pause: { fromLine: number; reason: string } | undefined;
  const scope = new CancellationScope();
  // A chunk starts once its lines are stored.
  const rowsStored = (toLine: number) => rows === undefined || (rows.complete && rows.error === undefined) || toLine <= rows.storedLines;
  const processing = scope.run(async () => {
    // Chunk promises never reject: a failure is kept, and every chunk is waited for
    // before this returns, so nothing is still writing when the batch is finalized.
    const inflight = new Map<number, Promise<void>>();
    for (;;) {
      while (
        dispatching &&
        pause === undefined &&
        !scope.consideredCancelled &&
        inflight.size < chunkConcurrency &&
        state.nextLine < total &&
        rowsStored(Math.min(state.nextLine + chunkSize, total))
      ) {
        const fromLine = state.nextLine;
        const toLine = Math.min(fromLine + chunkSize, total);
        state.nextLine = toLine;
        const range = { batchId, endpoint: plan.endpoint, fromLine, toLine };
        const chunk = processRequestRange(pauseWhenDown ? { ...range, pauseWhenDown } : range).then(
          (result) => {
            inflight.delete(fromLine);
            if (result.paused === undefined) return;
            pause = { fromLine: Math.min(fromLine, pause?.fromLine ?? fromLine), reason: pause?.reason ?? result.paused };
          },
          (err: unknown) => {
            inflight.delete(fromLine);
            if (failure === undefined) {
              failure = err;
              scope.cancel(); // the other chunks stop too
            }
          },
        );
        inflight.set(fromLine, chunk);
      }
      if (rows?.error !== undefined && failure === undefined) {
        failure = rows.error;
        scope.cancel();
      }
      if (inflight.size === 0 && pause !== undefined && !scope.consideredCancelled && failure === undefined) {
        state.nextLine = Math.min(state.nextLine, pause.fromLine);
        try {
          await waitForUpstream(batchId, pause.reason, emit);
        } catch (err) {
          // Cancelled or expired while waiting: the caller decides how the batch ends.
          if (!isCancellation(err)) failure ??= err;
          break;
        }
        pause = undefined;
        continue;
      }
      if (inflight.size === 0) {
        // Never left while rows are still being stored: finalization and a continued run count on all of them.
        if (rows !== undefined && !rows.complete) {
          await rows.done;
          continue;
        }
        break;
      }
      await Promise.race(rows !== undefined && !rows.complete ? [...inflight.values(), rows.done] : inflight.values());
      const progressDue = Date.now() - state.lastProgressAtMs >= progressIntervalSeconds * 1000;
      if (!scope.consideredCancelled && state.nextLine < total && progressDue) {
        state.lastProgressAtMs = Date.now();
        // Not cut short by a cancel: the chunks still have to be waited for.
        await CancellationScope.nonCancellable(() => emit('progress'));
      }
      if (historyIsLong()) dispatching = false;
    }
  }).finally(() => {
    finished = true;
  });

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
  await processing;
  if (failure !== undefined) throw failure;
  if (state.nextLine < total) return isCancelRequested() ? 'cancelled' : 'continue';
  return 'completed';
}
