import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { workerNodeArgs } from '../../src/worker/worker-command.js';
import { say, type Cleanup } from './cleanup.js';
import { processTreePids } from './cpu-meter.js';
import { round } from './measure.js';
import { REPO_ROOT, startNodeCommand, type NodeProcess } from './node-process.js';

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

let built: string | undefined;

/**
 * Builds the worker as the Docker image does, once per bench process:
 * `npm run build:worker`, and the workflow bundle unless WORKFLOW_BUNDLE_PATH
 * names one. Returns the bundle's path. Rebuilt on every run, so a bench never
 * measures stale code.
 */
function buildWorker(): string {
  if (built) return built;
  const npm = (...args: string[]) => execFileSync('npm', ['run', '--silent', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  say('building the worker (npm run build:worker)');
  npm('build:worker');
  built = process.env.WORKFLOW_BUNDLE_PATH;
  if (!built) {
    built = path.join(REPO_ROOT, 'dist/app/workflow-bundle.js');
    say('building the workflow bundle (npm run build:workflows)');
    npm('build:workflows', '--', built);
  }
  return built;
}

/**
 * The worker in its own process, started as production starts it (compiled,
 * on plain Node with the worker's V8 flags, a prebuilt workflow bundle) and
 * configured only through the environment; resolves once it polls both its
 * workflow and its activity task queue, so timings never include its start-up.
 * Several may serve one task queue: each waits for its own pollers.
 */
export async function startWorkerProcess(
  cleanup: Cleanup,
  connection: Connection,
  opts: WorkerProcessOptions,
): Promise<NodeProcess> {
  const bundlePath = buildWorker();
  const worker = startNodeCommand(workerNodeArgs(), {
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    UPSTREAM_BASE_URL: opts.upstreamUrl,
    UPSTREAM_CONCURRENCY: String(opts.upstreamConcurrency),
    LOG_LEVEL: 'warn',
    WORKFLOW_BUNDLE_PATH: bundlePath,
    ...opts.env,
  }, 'the worker');
  cleanup.add('worker process', () => worker.stop());
  await waitForPollers(connection, opts.taskQueue, worker);
  return worker;
}

export interface WorkerGroup {
  /** Starts or stops processes until `count` serve the task queue. */
  resize(count: number): Promise<void>;
  size(): number;
  /** Every running worker and any process below it, for the CPU meter. */
  pids(): number[];
  /** Peak RSS of each running worker, in MiB. */
  peakRssMiB(): (number | null)[];
  /** The last lines each worker printed, for a failure's diagnosis. */
  tails(): string;
}

/** Worker processes sharing one task queue, as many as a measurement asks for. */
export function startWorkerGroup(cleanup: Cleanup, connection: Connection, opts: WorkerProcessOptions): WorkerGroup {
  const running: NodeProcess[] = [];
  return {
    async resize(count) {
      while (running.length < count) running.push(await startWorkerProcess(cleanup, connection, opts));
      while (running.length > count) await running.pop()!.stop();
    },
    size: () => running.length,
    pids: () => processTreePids(running.map((w) => w.pid)),
    peakRssMiB: () => running.map((w) => round(w.peakRssMiB(), 1)),
    tails: () => running.map((w) => `worker ${w.pid}:\n${w.tail()}`).join('\n'),
  };
}

/**
 * Polls DescribeTaskQueue until both task-queue types have a poller of this
 * process (bounded). The SDK's default worker identity is `<pid>@<host>`.
 */
async function waitForPollers(connection: Connection, taskQueue: string, worker: NodeProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const hasPoller = async (taskQueueType: number) => {
    const res = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType,
    });
    return (res.pollers ?? []).some((p) => p.identity?.startsWith(`${worker.pid}@`));
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
