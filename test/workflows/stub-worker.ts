import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, Worker } from '@temporalio/worker';
import type { createActivities } from '../../src/activities/index.js';
import { WEBHOOK_NOT_SENT } from '../../src/workflows/contracts.js';
import { bundleWorkflows } from '../../src/worker/bundle-workflows.js';

/** Stubbed activities fail on purpose in these tests; only SDK errors are worth printing. */
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
});

export type Activities = ReturnType<typeof createActivities>;
export type ActivityName = keyof Activities;
export type ActivityInput<K extends ActivityName> = Parameters<Activities[K]>[0];

/** One call of a stubbed activity: its input and the workflow-clock time its attempt was scheduled at. */
export interface ActivityCall<K extends ActivityName = ActivityName> {
  name: K;
  input: ActivityInput<K>;
  attempt: number;
  atMs: number;
  /** The activity it ran in: its own name, or attemptWebhook for the steps that one runs. */
  within: string;
}

/** Every call the stubs received, in order. */
export class ActivityLog {
  readonly calls: ActivityCall[] = [];

  of<K extends ActivityName>(name: K): ActivityCall<K>[] {
    return this.calls.filter((call): call is ActivityCall<K> => call.name === name);
  }

  inputsOf<K extends ActivityName>(name: K): ActivityInput<K>[] {
    return this.of(name).map((call) => call.input);
  }

  names(): ActivityName[] {
    return this.calls.map((call) => call.name);
  }
}

/** Every activity the worker registers; the type check fails here when one is added or removed. */
const ACTIVITY_NAMES = {
  loadBatchPlan: true,
  validateBatchInput: true,
  storeRemainingRequests: true,
  processRequestRange: true,
  finalizeBatch: true,
  failBatch: true,
  findSubscribedEndpoints: true,
  recordWebhookEvent: true,
  recordLifecycleEvent: true,
  recordOperationalEvent: true,
  prepareWebhookAttempt: true,
  sendWebhook: true,
  recordWebhookAttemptOutcome: true,
  attemptWebhook: true,
  deliverWebhook: true,
  recordDeadLetter: true,
  recordDeadLetterRetrySuccess: true,
  deleteExpiredFiles: true,
  deleteFinishedBatchRequests: true,
  deleteOldWebhookAttempts: true,
  deleteOldWebhookEvents: true,
  deleteResolvedDeadLetters: true,
  pauseBatch: true,
  resumeBatch: true,
  probeUpstream: true,
} satisfies Record<ActivityName, true>;

/**
 * Activities for a workflow under test: the given stubs, each call logged; any
 * other activity fails the workflow at once (non-retryable), so an unexpected
 * call shows up as a failed test, not a hang.
 */
export function stubActivities(stubs: Partial<Activities>): { activities: Activities; log: ActivityLog } {
  const log = new ActivityLog();
  const record = (name: ActivityName, fn: (input: never) => unknown) => (input: never) => {
    const { attempt, currentAttemptScheduledTimestampMs, activityType } = Context.current().info;
    log.calls.push({ name, input, attempt, atMs: currentAttemptScheduledTimestampMs, within: activityType } as ActivityCall);
    return fn(input);
  };
  const unexpected = (name: string) => async () => {
    throw ApplicationFailure.create({ type: 'UnexpectedActivity', message: `unexpected call of ${name}`, nonRetryable: true });
  };
  const activities = Object.fromEntries(
    (Object.keys(ACTIVITY_NAMES) as ActivityName[]).map((name) => [name, record(name, (stubs[name] ?? unexpected(name)) as (input: never) => unknown)]),
  ) as unknown as Activities;
  // Unless stubbed, the one-task attempt runs the stubbed steps (each logged) as the real one does.
  if (!stubs.attemptWebhook) activities.attemptWebhook = (input) => attemptFromSteps(activities, input);
  return { activities, log };
}

/**
 * Runs `fn` while a worker with the real workflow code and the given activities
 * polls a fresh task queue, as Temporal's samples test workflows. `fn` must
 * await every workflow it starts (child deliveries too): a task left behind
 * when the worker stops holds the test server's clock for the rest of the file.
 */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  activities: Activities,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `workflow-test-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflows(),
    activities,
    // Heartbeats (and so cancellation) reach stubs quickly in real time.
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
  return worker.runUntil(fn(taskQueue));
}

/** A promise with its resolve function, for stubs that wait for the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves when the running activity is cancelled, heartbeating so the cancel can reach it. */
export async function untilCancelled(): Promise<never> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 50);
  try {
    return await ctx.cancelled;
  } finally {
    clearInterval(beat);
  }
}

/** attemptWebhook made of the three step stubs, with the real activity's rules (src/activities/webhook-activities.ts). */
async function attemptFromSteps(steps: Activities, input: ActivityInput<'attemptWebhook'>): ReturnType<Activities['attemptWebhook']> {
  let logged: Awaited<ReturnType<Activities['prepareWebhookAttempt']>>;
  try {
    const { timeoutSeconds: _timeout, ...step } = input;
    logged = await steps.prepareWebhookAttempt(step);
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw ApplicationFailure.create({ type: WEBHOOK_NOT_SENT, message: `not sent: ${(err as Error).message}` });
  }
  const outcome = logged.alreadyStarted ? (logged.outcome ?? { kind: 'interrupted' as const }) : await steps.sendWebhook(input);
  try {
    return { outcome, recorded: true, ...(await steps.recordWebhookAttemptOutcome({ deliveryId: input.deliveryId, attempt: input.attempt, outcome, target: input.target })) };
  } catch {
    return { outcome, recorded: false, disabledEndpoint: null };
  }
}
