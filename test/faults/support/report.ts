import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../../bench/support/node-process.js';
import type { ScenarioResult } from './scenario-run.js';

export const RESULTS_DIR = path.join(REPO_ROOT, 'test', 'faults', 'results');

const cell = (v: unknown, width: number) => String(v ?? '-').slice(0, width).padEnd(width);

/** One line per scenario: verdict, recovery time, re-sent requests and deliveries, failed checks. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = `${cell('scenario', 26)} ${cell('result', 6)} ${cell('phase', 5)} ${cell('recovery s', 10)} ${cell('upstream req/ids/resent', 23)} ${cell('webhook evt/rcpt/resent', 23)} failed checks`;
  const rows = results.map((r) =>
    [
      cell(r.scenario, 26),
      cell(r.passed ? 'PASS' : 'FAIL', 6),
      cell(r.phase_hit === null ? '-' : r.phase_hit ? 'hit' : 'MISS', 5),
      cell(r.recovery.seconds === null ? 'never' : r.recovery.seconds, 10),
      cell(`${r.upstream.requests}/${r.upstream.custom_ids}/${r.upstream.resent}`, 23),
      cell(`${r.webhooks.events}/${r.webhooks.receipts}/${r.webhooks.resent}`, 23),
      r.checks.filter((c) => !c.ok).map((c) => c.name).join('; ') || '',
    ].join(' '),
  );
  return [header, ...rows].join('\n');
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** latest.json when every scenario ran; a filtered run (`-t`) writes partial.json instead. */
export async function writeResults(results: readonly ScenarioResult[], complete: boolean, startedAt: Date): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, complete ? 'latest.json' : 'partial.json');
  const report = {
    run_at: startedAt.toISOString(),
    duration_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
    git_commit: git(['rev-parse', 'HEAD']),
    // The tree under test may hold uncommitted changes to src/: say so next to the commit.
    src_uncommitted_files: git(['status', '--porcelain', '--', 'src'])?.split('\n').filter(Boolean).length ?? null,
    machine: { cpus: os.cpus().length, node: process.version },
    passed: results.filter((r) => r.passed).length,
    failed: results.filter((r) => !r.passed).length,
    scenarios: results,
  };
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
