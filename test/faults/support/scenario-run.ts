import { setTimeout as delay } from 'node:timers/promises';
import type { ApiClient, BatchView, Outcome } from './api-client.js';
import { check, checkBatchFiles, checkWebhooks, waitTerminal, type Check } from './checks.js';
import { promptFor } from './counting-upstream.js';
import { say, type FaultStack } from './fault-stack.js';
import { poll } from './waiting.js';

/** How long a batch may take to become terminal once the fault is over. */
export const TERMINAL_WAIT_MS = 180_000;
/** How long webhook deliveries may take to settle once the batch is terminal. */
const WEBHOOK_WAIT_MS = 120_000;
/** An API probe must be answered within this, whatever the answer. */
export const PROBE_TIMEOUT_MS = 5_000;

export interface ScenarioResult {
  scenario: string;
  fault: string;
  /** Whether the fault landed in the intended phase (null: not applicable). */
  phase_hit: boolean | null;
  recovery: { from_to: string; seconds: number | null };
  upstream: { custom_ids: number; requests: number; resent: number };
  webhooks: { events: number; receipts: number; resent: number };
  /** API probes while Postgres was down: answers by status (or error), slowest answer. */
  api_while_postgres_down?: { probes: number; answers: Record<string, number>; slowest_ms: number };
  passed: boolean;
  checks: Check[];
  notes: string[];
}

export interface TrackedBatch {
  batch: BatchView;
  customIds: string[];
}

/** JSONL whose prompts carry their custom_id, padded so phases last long enough to hit. */
export function inputFor(tag: string, lines: number, paddingBytes: number, from = 0): { jsonl: string; customIds: string[] } {
  const padding = 'p'.repeat(paddingBytes);
  const customIds = Array.from({ length: lines }, (_, i) => `${tag}.${from + i}`);
  const jsonl = customIds
    .map((id) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'echo', messages: [{ role: 'user', content: promptFor(id, padding) }] } }))
    .join('\n');
  return { jsonl, customIds };
}

/** One scenario's bookkeeping: its owner's API client, checks, notes and figures. */
export class ScenarioRun {
  readonly api: ApiClient;
  readonly startedAt = Date.now();
  readonly checks: Check[] = [];
  readonly notes: string[] = [];
  faultAt: number | undefined;
  /** When the API answered 200 again after the last Postgres outage. */
  apiHealthyAt: number | undefined;
  phaseHit: boolean | null = null;
  recovery: { from_to: string; seconds: number | null } = { from_to: 'fault → batch terminal', seconds: null };
  private webhookFigures = { events: 0, receipts: 0, resent: 0 };
  private probeFigures: ScenarioResult['api_while_postgres_down'];

  constructor(
    readonly stack: FaultStack,
    readonly name: string,
    readonly fault: string,
  ) {
    this.api = stack.client(name);
  }

  note(msg: string): void {
    say(`${this.name}: ${msg}`);
    this.notes.push(msg);
  }

  /** Uploads a padded input and creates a batch with a webhook to the counting receiver. */
  async createBatch(lines: number, paddingBytes: number): Promise<TrackedBatch> {
    const { jsonl, customIds } = inputFor(this.name, lines, paddingBytes);
    const fileId = await this.api.upload(jsonl);
    this.note(`uploaded ${fileId}: ${lines} requests, ${Math.round(jsonl.length / 1024)} KiB`);
    return this.createBatchFrom(fileId, customIds);
  }

  async createBatchFrom(fileId: string, customIds: string[]): Promise<TrackedBatch> {
    const batch = await this.api.createBatch(fileId, this.stack.receiver.url);
    this.note(`batch ${batch.id} created`);
    return { batch, customIds };
  }

  markFault(what: string): void {
    this.faultAt = Date.now();
    this.note(`fault: ${what}`);
  }

  /** Restarts what is down (as a supervisor would) and notes it, so the batch can still finish. */
  async restoreStack(): Promise<void> {
    const restarted = await this.stack.ensureRunning();
    if (restarted.length > 0) this.note(`had to restart ${restarted.join(', ')} (died on its own)`);
  }

  /**
   * Waits for the batches to become terminal, then checks their files and
   * webhooks. `recoverBy` picks what the recovery time measures.
   */
  async finishBatches(tracked: TrackedBatch[], recoverBy: 'batch' | 'webhook' | 'none' = 'batch'): Promise<void> {
    const finished: BatchView[] = [];
    let lastTerminalAt: number | undefined;
    for (const { batch, customIds } of tracked) {
      const terminal = await waitTerminal(this.api, batch.id, TERMINAL_WAIT_MS);
      if (!terminal) {
        this.checks.push(check(`batch ${batch.id} reaches a terminal state`, false, `not terminal ${TERMINAL_WAIT_MS / 1000} s after the fault was over; ${await this.stallEvidence(batch.id)}`));
        continue;
      }
      lastTerminalAt = Math.max(lastTerminalAt ?? 0, terminal.at);
      finished.push(terminal.batch);
      this.checks.push(check(`batch ${batch.id} ends completed`, terminal.batch.status === 'completed', `status ${terminal.batch.status} ${terminal.batch.status === 'completed' ? '' : JSON.stringify(terminal.batch.errors ?? null)}`));
      this.checks.push(...(await checkBatchFiles(this.api, terminal.batch, customIds)));
    }
    let settledAt: number | null = null;
    if (finished.length > 0) {
      const webhooks = await checkWebhooks(this.stack, this.api, finished, WEBHOOK_WAIT_MS);
      this.checks.push(...webhooks.checks);
      this.webhookFigures = webhooks.figures;
      settledAt = webhooks.figures.settledAt;
    }
    if (this.faultAt !== undefined && recoverBy !== 'none') {
      const endAt = recoverBy === 'batch' ? (finished.length === tracked.length ? lastTerminalAt : undefined) : settledAt ?? undefined;
      this.recovery = {
        from_to: recoverBy === 'batch' ? 'fault → batch terminal' : 'fault → webhook delivery settled',
        seconds: endAt === undefined ? null : round((endAt - this.faultAt) / 1000),
      };
    }
  }

  /** Why a batch is stuck: its pending activities as Temporal sees them. */
  private async stallEvidence(batchId: string): Promise<string> {
    try {
      const row = await this.stack.pool.query<{ status: string }>(`SELECT status FROM batches WHERE id = $1::text`, [batchId]);
      const temporal = await this.stack.temporalClientFor();
      const d = await temporal.workflow.getHandle(`batch-${batchId}`).describe();
      // The timeouts each pending activity was scheduled with explain how long it can sit there.
      const history = await temporal.workflow.getHandle(`batch-${batchId}`).fetchHistory();
      const scheduled = new Map<string, string>();
      for (const e of history.events ?? []) {
        const a = e.activityTaskScheduledEventAttributes;
        if (!a?.activityType?.name) continue;
        const secs = (t: typeof a.startToCloseTimeout) => (Number(t?.seconds ?? 0) > 0 ? `${Number(t!.seconds)} s` : 'none');
        scheduled.set(a.activityType.name, `startToClose ${secs(a.startToCloseTimeout)}, heartbeat ${secs(a.heartbeatTimeout)}`);
      }
      const pending = (d.raw.pendingActivities ?? []).map((a) => {
        const name = a.activityType?.name ?? '?';
        const started = a.lastStartedTime?.seconds ? Number(a.lastStartedTime.seconds) * 1000 : undefined;
        const state = a.state === 2 ? 'started' : String(a.state);
        return `${name} ${state}, attempt ${a.attempt}, started ${started ? Math.round((Date.now() - started) / 1000) + ' s ago' : '-'} (${scheduled.get(name) ?? '?'})${a.lastFailure?.message ? ` lastFailure="${a.lastFailure.message.slice(0, 120)}"` : ''}`;
      });
      return `db status ${row.rows[0]?.status}; workflow ${d.status.name}; pending activities: ${pending.join(' | ') || 'none'}`;
    } catch (err) {
      return `could not describe: ${(err as Error).message}`;
    }
  }

  /**
   * Probes the API while Postgres is down: each probe must be answered within
   * PROBE_TIMEOUT_MS with a JSON 503. Returns the outcomes.
   */
  async probeWhileDown(paths: string[], untilMs: number): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    while (Date.now() < untilMs) {
      const round = await Promise.all(paths.map((p) => this.api.request(p, { timeoutMs: PROBE_TIMEOUT_MS })));
      outcomes.push(...round);
      await delay(Math.max(0, Math.min(2_000, untilMs - Date.now())));
    }
    return outcomes;
  }

  /** Kills Postgres for `outageMs`, probing the API meanwhile, then restarts it and checks the API recovers. */
  async postgresOutage(outageMs: number, probePaths: string[]): Promise<void> {
    const stack = this.stack;
    this.markFault(`kill -9 Postgres for ${outageMs / 1000} s`);
    await stack.postgres.kill9();
    const outcomes = await this.probeWhileDown(probePaths, this.faultAt! + outageMs);
    await stack.postgres.start();
    const restartedAt = Date.now();
    this.note(`Postgres restarted after ${round((restartedAt - this.faultAt!) / 1000)} s`);

    const answers: Record<string, number> = {};
    for (const o of outcomes) answers[String(o.status ?? o.error)] = (answers[String(o.status ?? o.error)] ?? 0) + 1;
    this.probeFigures = { probes: outcomes.length, answers, slowest_ms: Math.round(Math.max(0, ...outcomes.map((o) => o.ms))) };
    const bad = outcomes.filter((o) => !(o.status === 503 && (o.contentType ?? '').includes('application/json') && o.text.includes('"error"') && o.ms < PROBE_TIMEOUT_MS));
    const shape = (o: Outcome) => `${o.status ?? o.error} in ${Math.round(o.ms)} ms${o.text ? ` ${o.text.slice(0, 100)}` : ''}`;
    this.checks.push(check('API answers a JSON 503 within 5 s while Postgres is down', outcomes.length > 0 && bad.length === 0, `${outcomes.length} probes, ${bad.length} not a quick JSON 503; e.g. ${[...new Set(bad.map(shape))].slice(0, 3).join(' | ') || shape(outcomes[0]!)}`));

    const healthy = await poll(60_000, 500, async () => {
      const outs = await Promise.all(probePaths.map((p) => this.api.request(p, { timeoutMs: PROBE_TIMEOUT_MS })));
      return outs.every((o) => o.status === 200) ? Date.now() : undefined;
    });
    this.apiHealthyAt = healthy;
    this.checks.push(check('API recovers by itself after Postgres restarts', healthy !== undefined && stack.apiAlive(), healthy === undefined ? `no 200 within 60 s of the restart; API process ${stack.apiAlive() ? 'alive' : 'dead'}` : `healthy ${round((healthy - restartedAt) / 1000)} s after the restart`));
    await this.restoreStack();
  }

  apiHealthySeconds(): number | null {
    return this.apiHealthyAt === undefined || this.faultAt === undefined ? null : round((this.apiHealthyAt - this.faultAt) / 1000);
  }

  /** Processes that died on their own during the scenario, with the last lines they printed. */
  checkNoCrashes(): void {
    const crashes = this.stack.crashesSince(this.startedAt);
    this.checks.push(
      check(
        'no process died on its own',
        crashes.length === 0,
        crashes.map((c) => `${c.process} pid ${c.pid} exit code ${c.exit.code} signal ${c.exit.signal}: ${lastError(c.exit.tail)}`).join(' || '),
      ),
    );
  }

  result(): ScenarioResult {
    const counts = this.stack.upstream.counts(`${this.name}.`);
    let requests = 0;
    for (const n of counts.values()) requests += n;
    return {
      scenario: this.name,
      fault: this.fault,
      phase_hit: this.phaseHit,
      recovery: this.recovery,
      upstream: { custom_ids: counts.size, requests, resent: requests - counts.size },
      webhooks: this.webhookFigures,
      ...(this.probeFigures ? { api_while_postgres_down: this.probeFigures } : {}),
      passed: this.checks.every((c) => c.ok),
      checks: this.checks,
      notes: this.notes,
    };
  }
}

export const round = (n: number): number => Math.round(n * 10) / 10;

/** The most telling line of a crashed process's output: its last error, else its last line. */
function lastError(tail: string): string {
  const lines = tail.split('\n').filter((l) => l.trim() !== '' && !/^\s+at /.test(l));
  const error = [...lines].reverse().find((l) => /error|Error|ECONN|terminat/.test(l));
  return (error ?? lines[lines.length - 1] ?? '').slice(0, 400);
}

/** Waits until `probe` holds, polling; used to catch a phase of a batch running in another process. */
export async function waitForPhase(timeoutMs: number, everyMs: number, probe: () => Promise<boolean>): Promise<boolean> {
  return (await poll(timeoutMs, everyMs, async () => ((await probe()) ? true : undefined))) ?? false;
}

/**
 * Runs one scenario and always returns its result: a scenario that throws is
 * a failed result carrying the stack, and the stack of servers is brought back
 * whole for the next scenario. Each check is logged with `say`.
 */
export async function runScenarioRecorded<S extends { ensureRunning(): Promise<unknown> }>(
  name: string,
  run: (stack: S) => Promise<ScenarioResult>,
  stack: S,
  say: (line: string) => void,
): Promise<ScenarioResult> {
  say(`--- ${name}`);
  let result: ScenarioResult;
  try {
    result = await run(stack);
  } catch (err) {
    result = {
      scenario: name,
      fault: '',
      phase_hit: null,
      recovery: { from_to: '', seconds: null },
      upstream: { custom_ids: 0, requests: 0, resent: 0 },
      webhooks: { events: 0, receipts: 0, resent: 0 },
      passed: false,
      checks: [{ name: 'scenario ran to the end', ok: false, detail: (err as Error).stack ?? String(err) }],
      notes: [],
    };
    // The next scenario needs a whole stack again.
    await stack.ensureRunning().catch(() => undefined);
  }
  for (const c of result.checks) say(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  return result;
}
