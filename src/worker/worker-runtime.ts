import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { Logger } from '../shared/logger.js';
import { retryUntilDone } from '../shared/retry-until-done.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { createUpstreamRouter } from '../upstream/upstream-router.js';
import { createWebhookDispatcher } from '../webhooks/url-guard.js';
import { createBatchWorker } from './create-worker.js';
import { ensureRetentionScheduleAtStartUp } from './ensure-retention-schedule.js';
import { waitForNamespace } from './wait-for-namespace.js';

type WorkerRuntimeConfig = Config & { temporal: Config['temporal'] & { address: string } };

/**
 * Wires a worker's dependencies from config and runs it until `stop()`;
 * `done` settles once in-flight work is finished or handed back and every
 * client is closed. A dependency that is not up yet is waited for, never a
 * crash: Temporal unreachable, the namespace missing (created by an operator),
 * the search attributes not yet accepted. `stop()` during that wait ends it.
 */
export function startWorkerRuntime(config: WorkerRuntimeConfig, pool: Pool, log: Logger, upstreamBaseUrl: string | undefined, metrics?: WorkerMetrics) {
  const stopping = new AbortController();
  let shutdown: (() => void) | undefined;

  const done = (async () => {
    const { signal } = stopping;
    const options = await temporalConnectionOptions(config.temporal);
    const connection = await retryUntilDone(`connect to Temporal at ${config.temporal.address}`, () => NativeConnection.connect(options), log, {
      signal,
    });
    try {
      await waitForNamespace(connection, config.temporal.namespace, log, signal);
      // One client per route (UPSTREAM_ROUTES) plus the default: each its own pool, concurrency and retries.
      const upstream = createUpstreamRouter(config.upstream, upstreamBaseUrl, { logger: log, observer: metrics?.upstream });
      const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: config.webhook.allowPrivateNetworks });
      try {
        const worker = await createBatchWorker({
          connection,
          namespace: config.temporal.namespace,
          taskQueue: config.temporal.taskQueue,
          workflowBundlePath: config.temporal.workflowBundlePath,
          maxCachedWorkflows: config.temporal.maxCachedWorkflows,
          deps: { pool, upstream, webhookDispatcher, config, log, metrics },
        });
        // The SDK also shuts workers down on SIGINT/SIGTERM by itself; stopping twice is a no-op.
        shutdown = () => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
        };
        // The retention clean-up runs on a Temporal Schedule; creating it again changes nothing.
        const client = new Client({ connection, namespace: config.temporal.namespace });
        await ensureRetentionScheduleAtStartUp(client, { taskQueue: config.temporal.taskQueue, intervalSeconds: config.retention.cleanupIntervalSeconds }, log);
        if (signal.aborted) return;
        log.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'worker started');
        await worker.run();
      } finally {
        await upstream.close();
        await webhookDispatcher.close();
      }
    } finally {
      await connection.close();
    }
  })().catch((err: unknown) => {
    // Stopped while still waiting for a dependency: a clean stop, not a failure.
    if (!stopping.signal.aborted) throw err;
  });

  const stop = () => {
    stopping.abort();
    shutdown?.();
  };
  return { done, stop };
}
