/**
 * `npm run bench:readme [-- --results bench/results]`
 *
 * Rewrites the figures table of bench/README.md (between its bench-table
 * markers) from the latest report of each bench in the results directory,
 * which every bench writes through publishReport. A bench without a report
 * there keeps its rows as they were.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './support/node-process.js';
import { RESULTS_DIR } from './support/measure.js';

const { values: args } = parseArgs({ options: { results: { type: 'string', default: RESULTS_DIR } } });
const README = path.join(REPO_ROOT, 'bench', 'README.md');
const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

type Ms = Record<string, number | null>;
interface Lat {
  p50: number | null;
  p95?: number | null;
  p99: number | null;
}
interface Fig {
  deliveries_per_s: number | null;
  latency_ms: Lat;
  cpu_ms_per_delivery?: Ms;
  open_loop?: { achieved_start_rate_per_s: number | null; backlog_at_last_arrival: number; kept_up: boolean; drain_seconds: number | null };
}
interface Checks {
  ok: boolean;
}
interface Base {
  bench: string;
  size?: 'full' | 'smoke';
  at: string;
  machine: { cpus: number; load_avg_1m: number | null };
  argv?: string[];
  code?: string | null;
}
/** The fields each row reads; every bench's report has more. */
interface Report extends Base {
  [field: string]: unknown;
}

/** Each bench's npm script and what its rows say. */
const SCRIPTS: Record<string, string> = {
  webhooks: 'bench:webhooks',
  'webhooks-open-loop': 'bench:webhooks',
  batch: 'bench:batch',
  latency: 'bench:latency',
  'dead-letter': 'bench:dead-letter',
};

const n = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '?' : `${v}${unit}`);
const ms = (v: number | null | undefined) => (v === null || v === undefined ? '?' : v.toFixed(v < 10 ? 2 : 1));
/** "; CPU 21.4 ms/delivery (temporal 12.1, worker 7.3, …)", biggest first, groups that used nothing left out. */
const cpuMs = (per: Ms | undefined, unit: string) => {
  if (!per) return '';
  const { total, ...groups } = per;
  const split = Object.entries(groups)
    .filter(([, v]) => v !== 0)
    .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
    .map(([g, v]) => `${g} ${ms(v)}`)
    .join(', ');
  return `; CPU ${ms(total)} ms/${unit} (${split})`;
};
const lat = (l: Lat) => `p50 ${n(l.p50)} / p95 ${n(l.p95)} / p99 ${n(l.p99)} ms`;
const delivery = (f: Fig) => `${n(f.deliveries_per_s)}/s, ${lat(f.latency_ms)}${cpuMs(f.cpu_ms_per_delivery, 'delivery')}`;
const checked = (c: Checks) => (c.ok ? 'checks ok' : '**checks FAILED**');

/** Rows of one report: [what it measures, figure, baseline]. */
function rowsOf(r: Report): [string, string, string][] {
  switch (r.bench) {
    case 'webhooks': {
      type Scenario = { baseline: Fig; stack: Fig; ratio: number | null; checks: Checks };
      const healthy = r.healthy as Scenario;
      const flaky = r.flaky as Scenario & { receiver_failure_rate: number };
      const scaling = (r.scaling ?? []) as (Fig & { workers: number; workers_peak_rss_mib: number[]; checks: Checks })[];
      const rows: [string, string, string][] = [
        ['Webhook delivery, healthy receiver, closed loop: deliveries/s, event-to-receipt latency, CPU per delivery', `${delivery(healthy.stack)}; ratio ${n(healthy.ratio)}; ${checked(healthy.checks)}; worker peak RSS ${n(r.worker_peak_rss_mib as number)} MiB`, `plain signed POST loop: ${delivery(healthy.baseline)}`],
        [`Webhook delivery, receiver failing ${Math.round(flaky.receiver_failure_rate * 100)} %: the same, and nothing lost or duplicated`, `${delivery(flaky.stack)}; ratio ${n(flaky.ratio)}; ${checked(flaky.checks)}`, `plain loop with the same retries: ${delivery(flaky.baseline)}`],
      ];
      if (scaling.length > 0) {
        rows.push([
          'Webhook delivery with 1, 2, … worker processes (healthy, closed loop): how throughput and CPU per delivery scale',
          scaling.map((s) => `${s.workers} worker(s): ${n(s.deliveries_per_s)}/s${cpuMs(s.cpu_ms_per_delivery, 'delivery')}; RSS ${s.workers_peak_rss_mib.join('+')} MiB; ${checked(s.checks)}`).join('<br>'),
          `plain loop: ${n(healthy.baseline.deliveries_per_s)}/s`,
        ]);
      }
      return rows;
    }
    case 'webhooks-open-loop': {
      const params = r.params as { rate: number; seconds: number; arrivals: string };
      const healthy = r.healthy as { baseline: Fig; stack: Fig; checks: Checks };
      const open = (f: Fig) =>
        `started ${n(f.open_loop?.achieved_start_rate_per_s)}/s, ${lat(f.latency_ms)}, backlog ${n(f.open_loop?.backlog_at_last_arrival)} ` +
        `(${f.open_loop?.kept_up ? 'kept up' : 'did not keep up'}, drained in ${n(f.open_loop?.drain_seconds)} s)${cpuMs(f.cpu_ms_per_delivery, 'delivery')}`;
      return [
        [`Webhook delivery, open loop at ${params.rate}/s (${params.arrivals}) for ${params.seconds} s: latency from the due time, start rate, backlog`, `${open(healthy.stack)}; ${checked(healthy.checks)}`, `plain signed POSTs on the same schedule: ${open(healthy.baseline)}`],
      ];
    }
    case 'batch': {
      const params = r.params as { requests: number; echo_latency_ms: number; concurrency: number };
      const stack = r.stack as { rps: number; processing_rps: number; ratio: number; worker_peak_rss_mib: number; cpu_ms_per_request: Ms };
      const baseline = r.baseline as { rps: number; cpu_ms_per_request?: Ms };
      const large = r.large as { requests: number; total_seconds: number; max_events_per_run: number; runs: number; worker_peak_rss_mib: number } | null;
      const rows: [string, string, string][] = [
        [`Batch of ${params.requests} requests through API, Temporal and worker to an echo upstream (${params.echo_latency_ms} ms, C=${params.concurrency}): requests/s`, `${n(stack.rps)} req/s submit-to-completed (ratio ${n(stack.ratio)}), ${n(stack.processing_rps)} req/s processing${cpuMs(stack.cpu_ms_per_request, 'request')}; worker peak RSS ${n(stack.worker_peak_rss_mib)} MiB`, `plain client loop: ${n(baseline.rps)} req/s${cpuMs(baseline.cpu_ms_per_request, 'request')}`],
      ];
      if (large) {
        rows.push([`Batch of ${large.requests} requests: time and history size per run`, `${large.total_seconds} s, ${large.runs} run(s), max ${large.max_events_per_run} events/run; worker peak RSS ${large.worker_peak_rss_mib} MiB`, 'Temporal suggests continue-as-new at 4,096 events']);
      }
      return rows;
    }
    case 'latency': {
      type Stats = { p50: number | null; p95: number | null; min: number | null; max: number | null };
      const params = r.params as { runs: number };
      const stack = r.stack as { total_ms: Stats; phases_ms: Record<string, Stats>; cpu_ms_per_batch: Ms; worker_peak_rss_mib: number };
      const baseline = r.baseline as { total_ms: Stats };
      const phases = Object.entries(stack.phases_ms).map(([p, s]) => `${p} ${n(s.p50)}`).join(', ');
      return [
        [`${params.runs} sequential 1-line batches with a webhook on an idle stack: POST /v1/batches to batch.completed received`, `p50 ${n(stack.total_ms.p50)} / p95 ${n(stack.total_ms.p95)} ms (min ${n(stack.total_ms.min)}, max ${n(stack.total_ms.max)}); p50 by phase: ${phases} ms${cpuMs(stack.cpu_ms_per_batch, 'batch')}`, `echo request + signed POST: p50 ${n(baseline.total_ms.p50)} / p95 ${n(baseline.total_ms.p95)} ms`],
      ];
    }
    case 'dead-letter': {
      const indexed = r.p50_ms_indexed as Record<string, number>;
      const bare = r.p50_ms_without_indexes as Record<string, number>;
      const list = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ');
      return [
        [`Dead-letter list queries over ${(r.rows as number).toLocaleString('en')} rows: p50 ms per query`, `${list(indexed)}${cpuMs(r.cpu_ms_per_query_indexed as Ms | undefined, 'query')}`, `without the indexes: ${list(bare)}`],
      ];
    }
    default:
      return [];
  }
}

function tableRows(r: Report): string[] {
  const script = SCRIPTS[r.bench] ?? r.bench;
  const command = `\`npm run ${script}${r.argv && r.argv.length > 0 ? ` -- ${r.argv.join(' ')}` : ''}\``;
  const size = r.size === 'full' ? 'full' : '**smoke** (small N)';
  const machine = `${r.machine.cpus} cores, load ${n(r.machine.load_avg_1m)} at start`;
  const date = `${r.at.slice(0, 10)}${r.code ? ` (${r.code})` : ''}`;
  return rowsOf(r).map(([what, figure, baseline]) => `| ${command} | ${what} | ${figure} | ${baseline} | ${machine} | ${date} | ${size} |`);
}

/** The newest report of each bench, by the timestamp in its file name. */
async function latestReports(dir: string): Promise<Report[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const latest = new Map<string, string>();
  for (const file of files) latest.set(file.replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z\.json$/, ''), file);
  const reports: Report[] = [];
  for (const file of latest.values()) reports.push(JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Report);
  return reports;
}

const ORDER = ['latency', 'webhooks', 'webhooks-open-loop', 'batch', 'dead-letter'];
const readme = await readFile(README, 'utf8');
const [before, rest] = readme.split(START);
const [table, after] = (rest ?? '').split(END);
if (before === undefined || table === undefined || after === undefined) throw new Error(`${README} has no ${START} … ${END} section`);

// Rows of benches without a new report are kept; a row names its command in the first cell.
const oldRows = table.split('\n').filter((line) => line.startsWith('| `npm run'));
const reports = await latestReports(args.results);
const byBench = new Map(reports.map((r) => [r.bench, tableRows(r)]));
const rowsFor = (bench: string) => byBench.get(bench) ?? oldRows.filter((row) => rowBench(row) === bench);
// The old rows' bench, from the script in their command (webhooks' open-loop row says so).
const rowBench = (row: string) => {
  const script = /npm run (bench:[\w-]+)/.exec(row)?.[1];
  if (script === 'bench:webhooks') return row.includes('open loop at') ? 'webhooks-open-loop' : 'webhooks';
  return Object.keys(SCRIPTS).find((b) => SCRIPTS[b] === script && b !== 'webhooks-open-loop');
};

const header = [
  '| Command | What it measures | Figure | Baseline (same run) | Machine | Date (code) | Size |',
  '|---|---|---|---|---|---|---|',
];
const body = ORDER.flatMap(rowsFor);
await writeFile(README, `${before}${START}\n${[...header, ...body].join('\n')}\n${END}${after}`);
process.stderr.write(`bench/README.md: ${body.length} rows (${[...byBench.keys()].join(', ') || 'no new reports'})\n`);
