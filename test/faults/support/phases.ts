import proto from '@temporalio/proto';
import type { ApiClient } from './api-client.js';
import type { FaultStack } from './fault-stack.js';

const { PendingActivityState } = proto.temporal.api.enums.v1;

/** The batch's status as stored (faster to poll than the API; used to catch short phases). */
export async function storedStatus(stack: FaultStack, batchId: string): Promise<string | undefined> {
  const { rows } = await stack.pool.query<{ status: string }>(`SELECT status FROM batches WHERE id = $1::text`, [batchId]);
  return rows[0]?.status;
}

/** True while a worker runs activity `name` of the batch's workflow. */
export async function activityRunning(stack: FaultStack, batchId: string, name: string): Promise<boolean> {
  const temporal = await stack.temporalClientFor();
  const d = await temporal.workflow.getHandle(`batch-${batchId}`).describe();
  return (d.raw.pendingActivities ?? []).some(
    (a) => a.activityType?.name === name && a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
  );
}

/** True once at least `fraction` of the batch's requests are done while it is still in progress. */
export async function progressed(api: ApiClient, batchId: string, fraction: number): Promise<boolean> {
  const b = await api.getBatch(batchId);
  return b.status === 'in_progress' && b.request_counts.total > 0 && b.request_counts.completed + b.request_counts.failed >= fraction * b.request_counts.total;
}
