import { ApplicationFailure } from '@temporalio/common';
import { findBatchById, markPaused, markResumed } from '../db/batches.js';
import type { UpstreamProbe } from '../upstream/upstream-client.js';
import { asUpstreamRouter } from '../upstream/upstream-router.js';
import type { ActivityDeps } from './activity-deps.js';
import { asBatchStep } from './batch-activities.js';

/** The steps of a batch that waits for its upstream (src/workflows/wait-for-upstream.ts). */
export function createUpstreamPauseActivities(deps: ActivityDeps) {
  const { pool, log } = deps;
  return {
    /** Shows the batch as paused (`paused_at`, `pause_reason`); a repeat keeps the first `paused_at`. */
    pauseBatch: ({ batchId, reason }: { batchId: string; reason: string }): Promise<void> =>
      asBatchStep(async () => {
        await markPaused(pool, batchId, reason);
        log.warn({ batchId }, 'batch paused: its upstream is down');
      }),

    /** Shows the batch as running again. */
    resumeBatch: ({ batchId }: { batchId: string }): Promise<void> =>
      asBatchStep(async () => {
        await markResumed(pool, batchId);
        log.info({ batchId }, 'batch resumed: its upstream answers again');
      }),

    /** One cheap request to the batch's upstream: whether it answers again. */
    probeUpstream: ({ batchId }: { batchId: string }): Promise<UpstreamProbe> =>
      asBatchStep(async () => {
        const batch = await findBatchById(pool, batchId);
        if (!batch) throw new Error(`batch ${batchId} not found`);
        const route = asUpstreamRouter(deps.upstream).route(batch.model);
        if (!route) {
          throw ApplicationFailure.create({ type: 'NoUpstreamRoute', message: `no upstream route serves model ${JSON.stringify(batch.model)}`, nonRetryable: true });
        }
        const probe = await route.client.probe();
        log.info({ batchId, route: route.name, up: probe.up, detail: probe.detail }, 'upstream probed');
        return probe;
      }),
  };
}
