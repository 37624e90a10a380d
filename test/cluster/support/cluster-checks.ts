import proto from '@temporalio/proto';
import { webhookDeliveryWorkflowId } from '../../../src/workflows/workflow-ids.js';
import { type Check, check } from '../../faults/support/checks.js';
import { poll } from '../../faults/support/waiting.js';
import type { ClusterStack } from './cluster-stack.js';

const { PendingActivityState } = proto.temporal.api.enums.v1;
const VISIBILITY_WAIT_MS = 60_000;

/**
 * Every delivery workflow of the batches' webhook events is found in
 * visibility by `BatchId = "<batch>"` (advanced visibility on Postgres is
 * eventually consistent: waits, bounded, until all are listed).
 */
export async function checkDeliveriesFindable(stack: ClusterStack, batchIds: readonly string[]): Promise<Check> {
  const { rows: events } = await stack.pool.query<{ batch_id: string; type: string; seq: number }>(
    `SELECT batch_id, type, seq FROM webhook_events WHERE batch_id = ANY($1::text[])`,
    [batchIds],
  );
  const expected = events.map((e) => webhookDeliveryWorkflowId(e.batch_id, e.type, e.seq));
  let missing = expected;
  const listed = await poll(VISIBILITY_WAIT_MS, 1_000, async () => {
    const client = await stack.temporalClientFor();
    const found = new Set<string>();
    for (const id of batchIds) {
      for await (const wf of client.workflow.list({ query: `BatchId = "${id}"` })) found.add(wf.workflowId);
    }
    missing = expected.filter((id) => !found.has(id));
    return missing.length === 0 ? found.size : undefined;
  });
  return check(
    'every webhook delivery is found in visibility by BatchId',
    listed !== undefined && expected.length > 0,
    `${expected.length} delivery workflows expected; ${listed === undefined ? `missing after ${VISIBILITY_WAIT_MS / 1000} s: ${JSON.stringify(missing.slice(0, 5))}` : `${listed} workflows listed by BatchId`}`,
  );
}

/** The worker process running a started activity of `workflowId` (optionally of one type), if any. */
export async function workerRunningActivity(stack: ClusterStack, workflowId: string, activityType?: string): Promise<{ worker: ReturnType<ClusterStack['liveWorkers']>[number]; activity: string } | undefined> {
  const temporal = await stack.temporalClientFor();
  const d = await temporal.workflow.getHandle(workflowId).describe();
  for (const a of d.raw.pendingActivities ?? []) {
    if (a.state !== PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) continue;
    if (activityType && a.activityType?.name !== activityType) continue;
    const worker = stack.workerByIdentity(a.lastWorkerIdentity ?? '');
    if (worker) return { worker, activity: a.activityType?.name ?? '?' };
  }
  return undefined;
}
