import { CancellationScope, proxyActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { pauseBatch, resumeBatch, probeUpstream } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1m',
  retry: { maximumInterval: '1m' },
});

/** The first probe comes this long after the pause; each next one twice as late, up to the maximum. */
export const FIRST_PROBE_DELAY_MS = 1_000;
/** A day-long outage costs about 720 probes, well within a run's history. */
export const MAX_PROBE_DELAY_MS = 2 * 60_000;

/**
 * A paused batch: shown as paused (and `batch.paused` emitted), its upstream
 * probed with backoff until it answers, then shown as running again (and
 * `batch.resumed` emitted). Runs inside the processing scope: the batch's
 * cancel or expiry cancels the wait (sleep and probes), which then throws.
 */
export async function waitForUpstream(batchId: string, reason: string, emit: (event: 'paused' | 'resumed') => Promise<void>): Promise<void> {
  await pauseBatch({ batchId, reason });
  await CancellationScope.nonCancellable(() => emit('paused'));
  for (let delayMs = FIRST_PROBE_DELAY_MS; ; delayMs = Math.min(delayMs * 2, MAX_PROBE_DELAY_MS)) {
    await sleep(delayMs);
    const probe = await probeUpstream({ batchId });
    if (probe.up) break;
  }
  await resumeBatch({ batchId });
  await CancellationScope.nonCancellable(() => emit('resumed'));
}
