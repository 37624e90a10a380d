import { WorkflowNotFoundError } from '@temporalio/client';
import { webhookDeliveryWorkflowId } from '../../../src/workflows/workflow-ids.js';
import type { ApiClient, BatchView } from './api-client.js';
import { isTerminal } from './api-client.js';
import type { FaultStack } from './fault-stack.js';
import { poll } from './waiting.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export const check = (name: string, ok: boolean, detail = ''): Check => ({ name, ok, detail });

const sample = (items: readonly unknown[], n = 5): string => JSON.stringify(items.slice(0, n)) + (items.length > n ? ` …(+${items.length - n})` : '');

/** Lines of an output or error file, parsed; a file id of null is an empty file. */
async function fileLines(api: ApiClient, id: string | null): Promise<{ custom_id: string }[]> {
  if (id === null) return [];
  const text = await api.fileContent(id);
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { custom_id: string });
}

/**
 * The files of a terminal batch: every custom_id of the input in exactly one
 * of the output and error files, exactly once; counts agree with the files.
 */
export async function checkBatchFiles(api: ApiClient, batch: BatchView, customIds: readonly string[]): Promise<Check[]> {
  const output = await fileLines(api, batch.output_file_id);
  const errors = await fileLines(api, batch.error_file_id);
  const seen = new Map<string, number>();
  for (const line of [...output, ...errors]) seen.set(line.custom_id, (seen.get(line.custom_id) ?? 0) + 1);
  const expected = new Set(customIds);
  const missing = customIds.filter((id) => !seen.has(id));
  const repeated = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  const unknown = [...seen.keys()].filter((id) => !expected.has(id));
  const counts = batch.request_counts;
  return [
    check(
      'every custom_id exactly once in output+error files',
      missing.length === 0 && repeated.length === 0 && unknown.length === 0,
      `${customIds.length} in input; output ${output.length} lines, error ${errors.length} lines; missing ${missing.length} ${sample(missing)}; repeated ${repeated.length} ${sample(repeated)}; unknown ${unknown.length}`,
    ),
    check(
      'request_counts match the files',
      counts.completed === output.length && counts.failed === errors.length && counts.completed + counts.failed === counts.total && counts.total === customIds.length,
      `request_counts ${JSON.stringify(counts)}; output ${output.length}, error ${errors.length}, input ${customIds.length}`,
    ),
  ];
}

/** Waits (bounded) until the batch is terminal; undefined if it never got there. */
export async function waitTerminal(api: ApiClient, id: string, timeoutMs: number): Promise<{ batch: BatchView; at: number } | undefined> {
  return poll(timeoutMs, 250, async () => {
    const batch = await api.getBatch(id).catch(() => undefined);
    return batch && isTerminal(batch.status) ? { batch, at: Date.now() } : undefined;
  });
}

/**
 * Every batch the owner can list reaches a terminal state within `timeoutMs`
 * (a batch row without a running workflow would sit in `validating` forever).
 */
export async function checkVisibleBatchesTerminal(stack: FaultStack, api: ApiClient, timeoutMs: number): Promise<{ check: Check; batches: BatchView[] }> {
  const deadline = Date.now() + timeoutMs;
  let batches: BatchView[] = [];
  for (;;) {
    batches = await api.listAll<BatchView>('/batches', 100).catch(() => batches);
    const open = batches.filter((b) => !isTerminal(b.status));
    if (open.length === 0 || Date.now() > deadline) {
      if (open.length === 0) return { check: check('every visible batch reaches a terminal state', true, `${batches.length} batches`), batches };
      const temporal = await stack.temporalClientFor();
      const evidence: string[] = [];
      for (const b of open.slice(0, 5)) {
        const workflow = await temporal.workflow
          .getHandle(`batch-${b.id}`)
          .describe()
          .then((d) => d.status.name, (err: unknown) => (err instanceof WorkflowNotFoundError ? 'no workflow' : String(err)));
        evidence.push(`${b.id} ${b.status} (workflow: ${workflow})`);
      }
      return {
        check: check(
          'every visible batch reaches a terminal state',
          false,
          `${open.length} of ${batches.length} still open after ${Math.round(timeoutMs / 1000)} s: ${evidence.join('; ')}`,
        ),
        batches,
      };
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

export interface WebhookFigures {
  events: number;
  receipts: number;
  resent: number;
  settledAt: number | null;
}

/**
 * Webhooks of terminal `batches` (each subscribed to its terminal event): every event the service froze (ground truth from
 * Postgres) was received at least once with a valid signature, sits in the
 * dead-letter queue at most once, and an event the receiver acknowledged
 * with 2xx is not dead-lettered. Waits (bounded) for the deliveries to settle.
 */
export async function checkWebhooks(
  stack: FaultStack,
  api: ApiClient,
  batches: readonly BatchView[],
  timeoutMs: number,
): Promise<{ checks: Check[]; figures: WebhookFigures }> {
  const batchIds = batches.map((b) => b.id);
  const readEvents = async () =>
    (
      await stack.pool.query<{ id: string; batch_id: string; type: string; seq: number }>(
        `SELECT id, batch_id, type, seq FROM webhook_events WHERE batch_id = ANY($1::text[])`,
        [batchIds],
      )
    ).rows;
  // The workflow records the terminal event just after the batch turns terminal: give it a moment.
  const hasTerminalEvent = (rows: { batch_id: string; type: string }[], b: BatchView) => rows.some((e) => e.batch_id === b.id && e.type === b.status);
  const events =
    (await poll(timeoutMs, 250, async () => {
      const rows = await readEvents();
      return batches.every((b) => hasTerminalEvent(rows, b)) ? rows : undefined;
    })) ?? (await readEvents());
  const temporal = await stack.temporalClientFor();
  const settled = await poll(timeoutMs, 500, async () => {
    for (const e of events) {
      const status = await temporal.workflow
        .getHandle(webhookDeliveryWorkflowId(e.batch_id, e.type, e.seq))
        .describe()
        .then((d) => d.status.name, () => 'UNKNOWN');
      if (status === 'RUNNING' || status === 'UNKNOWN') return undefined;
    }
    return Date.now();
  });

  const checks: Check[] = [];
  const terminalWithoutEvent = batches.filter((b) => !hasTerminalEvent(events, b));
  checks.push(check('each terminal batch recorded its terminal event', terminalWithoutEvent.length === 0, `${events.length} events; missing for ${sample(terminalWithoutEvent.map((b) => `${b.id}:${b.status}`))}`));
  checks.push(check('webhook deliveries settled', settled !== undefined, settled === undefined ? `a delivery workflow still running after ${Math.round(timeoutMs / 1000)} s` : ''));

  const receipts = stack.receiver.receipts(batchIds);
  const received = new Set(receipts.filter((r) => r.signatureValid).map((r) => r.eventId));
  const acknowledged = new Set(receipts.filter((r) => r.answered !== null && r.answered < 300).map((r) => r.eventId));
  const notReceived = events.filter((e) => !received.has(e.id)).map((e) => `${e.id}:${e.type}`);
  checks.push(check('each webhook event received at least once (valid signature)', notReceived.length === 0, `${received.size}/${events.length} received; not received ${sample(notReceived)}`));
  checks.push(check('every delivery carries a valid signature', receipts.every((r) => r.signatureValid), `${receipts.filter((r) => !r.signatureValid).length} invalid of ${receipts.length}`));

  const dead: { id: number; event_id: string; error_message: string | null; attempts: number }[] = [];
  for (const id of batchIds) dead.push(...(await api.listAll<(typeof dead)[number]>(`/webhooks/dead-letter?batch_id=${id}`, 100)));
  const perEvent = new Map<string, number>();
  for (const d of dead) perEvent.set(d.event_id, (perEvent.get(d.event_id) ?? 0) + 1);
  const twice = [...perEvent].filter(([, n]) => n > 1);
  checks.push(check('each webhook event dead-lettered at most once', twice.length === 0, `${dead.length} dead-letter entries; repeated ${sample(twice)}`));
  const deliveredButDead = dead.filter((d) => acknowledged.has(d.event_id));
  checks.push(
    check(
      'no event acknowledged with 2xx is dead-lettered',
      deliveredButDead.length === 0,
      deliveredButDead.length === 0 ? `${dead.length} dead-letter entries` : `dead-lettered after a 2xx: ${sample(deliveredButDead.map((d) => `${d.event_id} (${d.attempts} attempts, "${d.error_message}")`))}`,
    ),
  );
  return {
    checks,
    figures: { events: events.length, receipts: receipts.length, resent: receipts.length - new Set(receipts.map((r) => r.eventId)).size, settledAt: settled ?? null },
  };
}
