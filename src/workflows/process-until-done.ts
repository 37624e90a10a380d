import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { BatchPlan } from './contracts.js';

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

/** Runs chunk activities in a bounded window until done, cancelled, expired or history is long. */
export async function processUntilDone(
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
  const processing = scope.run(async () => {
    // Chunk promises never reject: a failure is kept, and every chunk is waited for
    // before this returns, so nothing is still writing when the batch is finalized.
    const inflight = new Map<number, Promise<void>>();
    for (;;) {
      while (dispatching && !scope.consideredCancelled && inflight.size < chunkConcurrency && state.nextLine < total) {
        const fromLine = state.nextLine;
        const toLine = Math.min(fromLine + chunkSize, total);
        state.nextLine = toLine;
        const chunk = processRequestRange({ batchId, endpoint: plan.endpoint, fromLine, toLine }).then(
          () => void inflight.delete(fromLine),
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
      if (inflight.size === 0) break;
      await Promise.race(inflight.values());
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
