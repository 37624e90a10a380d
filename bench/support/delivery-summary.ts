import { describeCpuMs } from './cpu-meter.js';
import type { figures, openLoopFigures } from './delivery-outcomes.js';

// The readable line of bench:webhooks, one part per scenario.

type Figures = ReturnType<typeof figures>;
type OpenLoopFigures = Figures & { open_loop: ReturnType<typeof openLoopFigures> };
interface Checks {
  ok: boolean;
  lost: number;
  duplicates_in_queue: number;
  delivered: number;
  dead_lettered: number;
}

const lat = (f: Figures) => `p50/p95/p99 ${f.latency_ms.p50}/${f.latency_ms.p95}/${f.latency_ms.p99} ms`;
const cpu = (f: Figures) => `CPU/delivery ${describeCpuMs(f.cpu_ms_per_delivery)}`;
const checked = (c: Checks) => `lost ${c.lost}, duplicates in queue ${c.duplicates_in_queue}${c.ok ? '' : ' — CHECKS FAILED'}`;

export function describeScenario(label: string, s: { baseline: Figures; stack: Figures; ratio: number | null; checks: Checks }): string {
  return (
    `${label}: baseline ${s.baseline.deliveries_per_s}/s (${lat(s.baseline)}, ${cpu(s.baseline)}), ` +
    `stack ${s.stack.deliveries_per_s}/s (${lat(s.stack)}, ${cpu(s.stack)}), ratio ${s.ratio}; ` +
    `delivered ${s.checks.delivered}, dead-lettered ${s.checks.dead_lettered}, ${checked(s.checks)}`
  );
}

export function describeScaling(results: (Figures & { workers: number; workers_peak_rss_mib: (number | null)[]; checks: Checks })[]): string {
  const each = results.map(
    (r) => `${r.workers} worker(s) ${r.deliveries_per_s}/s, ${cpu(r)}, peak RSS ${r.workers_peak_rss_mib.join('+')} MiB, ${checked(r.checks)}`,
  );
  return `scaling (healthy, closed loop): ${each.join('; ')}`;
}

export function describeOpenLoop(s: { baseline: OpenLoopFigures; stack: OpenLoopFigures; checks: Checks }): string {
  const side = (name: string, f: OpenLoopFigures) =>
    `${name}: started ${f.open_loop.achieved_start_rate_per_s}/s, ${lat(f)}, backlog ${f.open_loop.backlog_at_last_arrival} ` +
    `(${f.open_loop.kept_up ? 'kept up' : 'did NOT keep up'}, drained in ${f.open_loop.drain_seconds} s), ${cpu(f)}`;
  return `${side('baseline', s.baseline)} | ${side('stack', s.stack)}; ${checked(s.checks)}`;
}
