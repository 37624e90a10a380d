import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { activityMetricsInterceptor } from './activity-metrics-interceptor.js';
import { bundleWorkflows } from './bundle-workflows.js';

export interface BatchWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** How long in-flight activities may finish on shutdown before they are cancelled and handed back. */
  shutdownGraceTime?: string;
  /** A prebuilt bundle saves the worker the webpack run (seconds, and ~150 MiB of peak memory) at start-up. */
  workflowBundlePath?: string;
  /** Workflows kept in memory between tasks; 0 disables the sticky cache (tests on the time-skipping server). */
  maxCachedWorkflows?: number;
  /** Activities to register instead of some of createActivities(deps)' own, given those (tests replace single steps). */
  replaceActivities?: (real: Activities) => Partial<Activities>;
}

type Activities = ReturnType<typeof createActivities>;

function activitiesOf(opts: BatchWorkerOptions): Activities {
  const real = createActivities(opts.deps);
  return opts.replaceActivities ? { ...real, ...opts.replaceActivities(real) } : real;
}

/** A worker that runs batch, delivery and bulk-retry workflows with their activities. */
export async function createBatchWorker(opts: BatchWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundlePath ? { codePath: opts.workflowBundlePath } : await bundleWorkflows(),
    activities: activitiesOf(opts),
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...(opts.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: opts.maxCachedWorkflows }),
    ...(opts.deps.metrics ? { interceptors: { activity: [activityMetricsInterceptor(opts.deps.metrics)] } } : {}),
    // Chunk activities mostly wait on the upstream client, whose own semaphore bounds the real concurrency.
    maxConcurrentActivityTaskExecutions: 64,
  });
}
