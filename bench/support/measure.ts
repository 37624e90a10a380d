import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './node-process.js';

/**
 * Wall-clock milliseconds with sub-millisecond resolution. Comparable with
 * Postgres timestamps (same system clock), unlike bare performance.now().
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Runs `fn` over `items` with `concurrency` lanes; each lane takes the next item when its last one is done. */
export async function runInLanes<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/** Nearest-rank percentile of unsorted samples; undefined when there are none. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function round(value: number | undefined, digits = 2): number | null {
  if (value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The machine a figure was measured on: benchmarks here share 2 noisy cores. */
export function machine() {
  return { cpus: os.cpus().length, load_avg_1m: round(os.loadavg()[0]), node: process.version };
}

/** The commit the code under test comes from, marked when src/ has uncommitted changes; null outside a git checkout. */
function codeVersion(): string | null {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--', 'src') === '' ? head : `${head} with uncommitted src changes`;
  } catch {
    return null;
  }
}

/** Where publishReport keeps every report; bench/update-readme.ts reads the latest of each bench from here. */
export const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

/**
 * Prints the report as one JSON line plus one readable line on stdout and
 * keeps a copy in bench/results/<name>-<timestamp>.json (git-ignored), with
 * the code version, the command-line arguments it ran with and the summary line.
 */
export async function publishReport(name: string, report: object, summary: string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const full = { ...report, code: codeVersion(), argv: process.argv.slice(2), summary };
  await writeFile(file, `${JSON.stringify(full, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(full)}\n${summary}\n`);
  return file;
}
