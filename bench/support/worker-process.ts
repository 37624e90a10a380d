import { setTimeout as delay } from 'node:timers/promises';
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Cleanup } from './cleanup.js';
import { startNodeProcess, type NodeProcess } from './node-process.js';

const READY_TIMEOUT_MS = 120_000;
const { TaskQueueType } = proto.temporal.api.enums.v1;

export interface WorkerProcessOptions {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  upstreamUrl: string;
  upstreamConcurrency: number;
  /** Further environment variables (all strings, as the worker reads them). */
  env?: Record<string, string>;
}

/**
 * `src/worker/main.ts` in its own process, configured only through the
 * environment as in production; resolves once it polls both its workflow and
 * its activity task queue, so timings never include its start-up (bundling).
 */
export async function startWorkerProcess(
  cleanup: Cleanup,
  connection: Connection,
  opts: WorkerProcessOptions,
): Promise<NodeProcess> {
  const worker = startNodeProcess('src/worker/main.ts', [], {
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    UPSTREAM_BASE_URL: opts.upstreamUrl,
    UPSTREAM_CONCURRENCY: String(opts.upstreamConcurrency),
    LOG_LEVEL: 'warn',
    ...opts.env,
  });
  cleanup.add('worker process', () => worker.stop());
  await waitForPollers(connection, opts.taskQueue, worker);
  return worker;
}

/** Polls DescribeTaskQueue until both task-queue types have a poller (bounded). */
async function waitForPollers(connection: Connection, taskQueue: string, worker: NodeProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const hasPoller = async (taskQueueType: number) => {
    const res = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType,
    });
    return (res.pollers ?? []).length > 0;
  };
  while (Date.now() < deadline) {
    if (worker.hasExited()) throw new Error(`worker exited during start-up:\n${worker.tail()}`);
    const [workflows, activities] = await Promise.all([
      hasPoller(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
      hasPoller(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    ]);
    if (workflows && activities) return;
    // Nothing to await: the server cannot notify us of a new poller.
    await delay(100);
  }
  throw new Error(`worker did not poll ${taskQueue} within ${READY_TIMEOUT_MS / 1000} s:\n${worker.tail()}`);
}
