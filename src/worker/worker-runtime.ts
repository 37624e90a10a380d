import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../shared/logger.js';
import { createUpstreamClient } from '../upstream/upstream-client.js';
import { createWebhookDispatcher } from '../webhooks/url-guard.js';
import { createBatchWorker } from './create-worker.js';
import { ensureSearchAttributes } from './ensure-search-attributes.js';

/**
 * Wires a worker's dependencies from config and runs it until `stop()`;
 * `done` settles once in-flight work is finished or handed back and every
 * client is closed.
 */
export async function startWorkerRuntime(config: Config, pool: Pool, log: Logger, upstreamBaseUrl: string) {
  const connection = await NativeConnection.connect({ address: config.temporal.address! });
  await ensureSearchAttributes(connection, config.temporal.namespace).catch((err: Error) =>
    log.warn({ err: err.message }, 'could not register search attributes; register BatchId and WebhookEventType (Keyword) on the namespace'),
  );
  const upstream = createUpstreamClient({ ...config.upstream, baseUrl: upstreamBaseUrl, logger: log });
  const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: config.webhook.allowPrivateNetworks });
  const worker = await createBatchWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundlePath: config.temporal.workflowBundlePath,
    deps: { pool, upstream, webhookDispatcher, config, log },
  });
  const done = worker.run().finally(async () => {
    await upstream.close();
    await webhookDispatcher.close();
    await connection.close();
  });
  // The SDK also shuts workers down on SIGINT/SIGTERM by itself; stopping twice is a no-op.
  const stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return { done, stop };
}
