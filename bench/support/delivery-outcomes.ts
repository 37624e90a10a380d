import type { Pool } from '../../src/db/pool.js';
import { cpuMsPer, type CpuUsage } from './cpu-meter.js';
import type { OpenLoopRun } from './delivery-loops.js';
import { percentile, round } from './measure.js';
import type { Receipt } from './receiver.js';
import type { SeededEvent } from './seed-events.js';

/** What each lane records per event. */
export interface Settled {
  /** Where its latency is counted from: when a closed loop's lane took it, or when an open loop had it due. */
  startedAt: number;
  outcome: 'delivered' | 'dead_lettered';
}

export interface LoopRun {
  seconds: number;
  settled: Settled[];
  cpu: CpuUsage;
}

/** Throughput, latency and receipt counts of one side's run. */
export function figures(events: SeededEvent[], run: LoopRun, receipts: Map<string, Receipt[]>) {
  const latencies: number[] = [];
  let attempts = 0;
  let invalidSignatures = 0;
  let deliveredTwice = 0;
  events.forEach((event, i) => {
    const got = receipts.get(event.eventId) ?? [];
    attempts += got.length;
    invalidSignatures += got.filter((r) => !r.signatureValid).length;
    const ok = got.filter((r) => r.status >= 200 && r.status < 300);
    if (ok.length > 1) deliveredTwice += 1;
    if (ok[0]) latencies.push(ok[0].at - run.settled[i]!.startedAt);
  });
  return {
    seconds: round(run.seconds, 3),
    deliveries_per_s: round(events.length / run.seconds, 1),
    latency_ms: {
      p50: round(percentile(latencies, 50), 1),
      p95: round(percentile(latencies, 95), 1),
      p99: round(percentile(latencies, 99), 1),
    },
    settled_delivered: run.settled.filter((s) => s.outcome === 'delivered').length,
    settled_out_of_attempts: run.settled.filter((s) => s.outcome === 'dead_lettered').length,
    receipts: attempts,
    receipts_2xx_more_than_once: deliveredTwice,
    invalid_signatures: invalidSignatures,
    cpu: run.cpu,
    cpu_ms_per_delivery: cpuMsPer(run.cpu, events.length),
  };
}

/** First 2xx receipt of each event, undefined when it never got one. */
function firstDelivered(events: SeededEvent[], receipts: Map<string, Receipt[]>): (number | undefined)[] {
  return events.map((e) => (receipts.get(e.eventId) ?? []).find((r) => r.status >= 200 && r.status < 300)?.at);
}

/**
 * Whether an open loop kept up with its schedule: the rate at which the side
 * accepted events against the schedule's, how late it accepted them, and how
 * many arrived events had not reached the receiver when the last one was due
 * (the backlog). It kept up when it accepted at ≥ 95 % of the scheduled rate
 * and the backlog was at most one second of arrivals.
 */
export function openLoopFigures(events: SeededEvent[], run: OpenLoopRun, receipts: Map<string, Receipt[]>, targetRate: number) {
  const n = events.length;
  const perSecond = (count: number, fromMs: number, toMs: number) => (toMs > fromMs ? (count * 1000) / (toMs - fromMs) : undefined);
  const lastDue = Math.max(...run.dueAt);
  const scheduledRate = perSecond(n - 1, Math.min(...run.dueAt), lastDue);
  const achievedRate = perSecond(n - 1, Math.min(...run.acceptedAt), Math.max(...run.acceptedAt));
  const lags = run.acceptedAt.map((at, i) => at - run.dueAt[i]!);
  const delivered = firstDelivered(events, receipts);
  const backlog = delivered.filter((at) => at === undefined || at > lastDue).length;
  const lastDelivered = Math.max(...delivered.map((at) => at ?? Number.NaN).filter(Number.isFinite));
  const keptUp = achievedRate !== undefined && scheduledRate !== undefined && achievedRate >= 0.95 * scheduledRate && backlog <= Math.max(1, Math.ceil(targetRate));
  return {
    target_rate_per_s: targetRate,
    scheduled_rate_per_s: round(scheduledRate, 1),
    achieved_start_rate_per_s: round(achievedRate, 1),
    start_lag_ms: { p50: round(percentile(lags, 50), 1), p99: round(percentile(lags, 99), 1), max: round(Math.max(...lags), 1) },
    backlog_at_last_arrival: backlog,
    drain_seconds: round((lastDelivered - lastDue) / 1000, 3),
    kept_up: keptUp,
  };
}

/**
 * The durability check: every event has a 2xx receipt or exactly one dead-letter
 * row, never neither; attempts recorded in Postgres match what the receiver saw.
 */
export async function checkOutcomes(pool: Pool, events: SeededEvent[], receipts: Map<string, Receipt[]>, settled: Settled[]) {
  const ids = events.map((e) => e.eventId);
  const dead = await pool.query<{ event_id: string; n: number }>(
    `SELECT event_id, count(*)::int AS n FROM webhook_dead_letter WHERE event_id = ANY($1::text[]) GROUP BY event_id`,
    [ids],
  );
  const recorded = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM webhook_delivery_attempts WHERE event_id = ANY($1::text[])`,
    [ids],
  );
  const deadRows = new Map(dead.rows.map((r) => [r.event_id, r.n]));
  const delivered = (id: string) => (receipts.get(id) ?? []).some((r) => r.status >= 200 && r.status < 300);
  const outcomeMismatch = events.filter((e, i) => (settled[i]!.outcome === 'delivered') !== delivered(e.eventId)).length;
  const receiptCount = [...receipts.values()].reduce((sum, list) => sum + list.length, 0);
  return {
    events: events.length,
    delivered: ids.filter(delivered).length,
    dead_lettered: deadRows.size,
    lost: ids.filter((id) => !delivered(id) && !deadRows.has(id)).length,
    duplicates_in_queue: [...deadRows.values()].filter((n) => n > 1).length,
    delivered_and_dead_lettered: ids.filter((id) => delivered(id) && deadRows.has(id)).length,
    workflow_result_disagrees_with_receiver: outcomeMismatch,
    attempts_recorded: recorded.rows[0]!.n,
    attempts_received: receiptCount,
  };
}
