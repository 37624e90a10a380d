import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

export interface RunHistory {
  runId: string;
  status: string;
  events: number;
}

const VISIBILITY_WAIT_MS = 20_000;

/**
 * Every run in a workflow id's continue-as-new chain with its history length,
 * oldest first. Visibility is eventually consistent, so the listing is
 * retried (bounded) until the run that closed the chain shows up as closed.
 */
export async function historyPerRun(client: Client, workflowId: string): Promise<RunHistory[]> {
  const deadline = Date.now() + VISIBILITY_WAIT_MS;
  for (;;) {
    const listed: { runId: string; status: string; startMs: number }[] = [];
    for await (const info of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
      listed.push({ runId: info.runId, status: info.status.name, startMs: info.startTime.getTime() });
    }
    const closed = listed.some((r) => r.status === 'COMPLETED' || r.status === 'FAILED' || r.status === 'TERMINATED');
    const open = listed.some((r) => r.status === 'RUNNING');
    if (closed && !open) {
      listed.sort((a, b) => a.startMs - b.startMs);
      const runs: RunHistory[] = [];
      for (const run of listed) {
        // Count the events themselves rather than trusting the listing's historyLength.
        const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
        runs.push({ runId: run.runId, status: run.status, events: history.events?.length ?? 0 });
      }
      return runs;
    }
    if (Date.now() > deadline) {
      throw new Error(`visibility did not list the closed chain of ${workflowId} within ${VISIBILITY_WAIT_MS / 1000} s`);
    }
    await delay(250);
  }
}

/** Wall-clock ms (ns precision) at which the server recorded the workflow's start: its first history event. */
export async function workflowStartedAtMs(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const time = history.events?.[0]?.eventTime;
  if (!time?.seconds) throw new Error(`${workflowId} has no start event`);
  const seconds = typeof time.seconds === 'number' ? time.seconds : time.seconds.toNumber();
  return seconds * 1000 + (time.nanos ?? 0) / 1e6;
}

/** Each history event of a workflow as `[ms since originMs, event type]`, for reading where a run's time goes. */
export async function historyTimeline(client: Client, workflowId: string, originMs: number): Promise<[number, string][]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => {
    const seconds = typeof e.eventTime?.seconds === 'number' ? e.eventTime.seconds : (e.eventTime?.seconds?.toNumber() ?? 0);
    const at = seconds * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    const name = proto.temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType);
    return [Math.round((at - originMs) * 10) / 10, name.replace(/^EVENT_TYPE_/, '')];
  });
}
