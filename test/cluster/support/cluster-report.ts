import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../../bench/support/node-process.js';
import type { ScenarioResult } from '../../faults/support/scenario-run.js';

export const CLUSTER_RESULTS_DIR = path.join(REPO_ROOT, 'test', 'cluster', 'results');

/**
 * `npm run test:cluster` (CLUSTER_RESULTS=record) writes latest.json, the committed
 * figures, when every scenario ran, and partial.json for a filtered run (`-t`). Inside
 * `npm test` the same run goes to last-run.json (ignored by git), so the tree stays clean.
 */
export async function writeClusterResults(results: readonly ScenarioResult[], complete: boolean, startedAt: Date, setup: Record<string, unknown>): Promise<string> {
  await mkdir(CLUSTER_RESULTS_DIR, { recursive: true });
  const recorded = process.env.CLUSTER_RESULTS === 'record';
  const file = path.join(CLUSTER_RESULTS_DIR, !recorded ? 'last-run.json' : complete ? 'latest.json' : 'partial.json');
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout.
  }
  const report = {
    run_at: startedAt.toISOString(),
    duration_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
    git_commit: commit,
    machine: { cpus: os.cpus().length, node: process.version },
    setup,
    passed: results.filter((r) => r.passed).length,
    failed: results.filter((r) => !r.passed).length,
    scenarios: results,
  };
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
