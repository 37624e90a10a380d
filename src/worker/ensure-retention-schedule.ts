import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { Logger } from '../shared/logger.js';
import { retentionCleanupWorkflow } from '../workflows/retention-cleanup-workflow.js';

/** The schedule operators find in the Web UI (Schedules), and the id prefix of its runs. */
export const RETENTION_SCHEDULE_ID = 'retention-cleanup';

const NOTE = 'Deletes expired files and data past its retention (docs/RETENTION.md). Created by the worker at start-up.';
// A run missed while the cluster was down is made up for only if it is this recent; the next one comes anyway.
const CATCHUP_WINDOW = '10 minutes';
// How long start-up waits on Temporal for this before it goes on without the schedule.
const CALL_DEADLINE_MS = 10_000;

export type EnsureScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'unsupported';

function desiredAction(taskQueue: string): ScheduleOptionsStartWorkflowAction<typeof retentionCleanupWorkflow> {
  return { type: 'startWorkflow', workflowType: retentionCleanupWorkflow, args: [], taskQueue, workflowId: RETENTION_SCHEDULE_ID };
}

function isUpToDate(current: ScheduleDescription, taskQueue: string, intervalSeconds: number): boolean {
  const { action, spec, policies } = current;
  return (
    action.type === 'startWorkflow' &&
    action.workflowType === retentionCleanupWorkflow.name &&
    action.taskQueue === taskQueue &&
    spec.intervals?.length === 1 &&
    spec.intervals[0]!.every === intervalSeconds * 1000 &&
    (spec.calendars?.length ?? 0) === 0 &&
    policies.overlap === ScheduleOverlapPolicy.SKIP
  );
}

/** gRPC UNIMPLEMENTED (the SDK wraps it, the cause keeps the code): the time-skipping test server has no schedules. */
function isUnimplemented(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === 12) return true;
  }
  return false;
}

/**
 * Creates the `retention-cleanup` schedule (every `intervalSeconds`, overlap
 * SKIP), or brings an existing one up to date. Idempotent: many workers may
 * start at once; whoever comes second finds it and changes nothing, and an
 * operator's pause is kept across updates.
 */
export async function ensureRetentionSchedule(
  client: Client,
  opts: { taskQueue: string; intervalSeconds: number },
): Promise<EnsureScheduleOutcome> {
  const spec = { intervals: [{ every: `${opts.intervalSeconds}s` }] };
  const action = desiredAction(opts.taskQueue);
  try {
    await client.schedule.create({
      scheduleId: RETENTION_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW },
      state: { note: NOTE },
    });
    return 'created';
  } catch (err) {
    if (isUnimplemented(err)) return 'unsupported';
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(RETENTION_SCHEDULE_ID);
  if (isUpToDate(await handle.describe(), opts.taskQueue, opts.intervalSeconds)) return 'unchanged';
  await handle.update((previous) => ({
    spec,
    action,
    policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP },
    state: { paused: previous.state.paused, note: previous.state.note ?? NOTE, remainingActions: previous.state.remainingActions },
  }));
  return 'updated';
}

/**
 * Start-up's call: ensures the schedule within a deadline and logs what
 * happened. A failure is logged, never fatal: the worker still serves
 * batches, and the next start tries again.
 */
export async function ensureRetentionScheduleAtStartUp(
  client: Client,
  opts: { taskQueue: string; intervalSeconds: number },
  log: Logger,
): Promise<EnsureScheduleOutcome | 'failed'> {
  try {
    const outcome = await client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, () => ensureRetentionSchedule(client, opts));
    if (outcome === 'unsupported') log.warn({ scheduleId: RETENTION_SCHEDULE_ID }, 'this Temporal server has no schedules: the retention clean-up does not run');
    else log.info({ scheduleId: RETENTION_SCHEDULE_ID, outcome, intervalSeconds: opts.intervalSeconds }, 'retention clean-up schedule ready');
    return outcome;
  } catch (err) {
    log.warn({ scheduleId: RETENTION_SCHEDULE_ID, err: (err as Error).message }, 'could not create or update the retention clean-up schedule; the next start tries again');
    return 'failed';
  }
}
