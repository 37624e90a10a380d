import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiMidCreate, apiMidUpload } from './scenarios/api-faults.js';
import { postgresMidBatch, postgresMidDelivery, postgresMidFinalization, postgresMidUpload } from './scenarios/postgres-faults.js';
import { temporalMidBatch } from './scenarios/temporal-faults.js';
import { workerInFinalizing, workerInProgress, workerInValidating, workerMidDelivery } from './scenarios/worker-faults.js';
import { FaultStack, say } from './support/fault-stack.js';
import { formatTable, RESULTS_DIR, writeResults } from './support/report.js';
import { runScenarioRecorded, type ScenarioResult } from './support/scenario-run.js';

/**
 * Fault injection against real processes: the API and worker entry points,
 * Postgres and the Temporal dev server, each killed with SIGKILL at a chosen
 * moment of a fresh batch. After each fault: every request exactly once in
 * the files, counts that match, nothing half-created visible, every webhook
 * event received, none dead-lettered twice. See docs/FAULTS.md.
 */

const SCENARIOS: [name: string, run: (stack: FaultStack) => Promise<ScenarioResult>][] = [
  ['worker-validating', workerInValidating],
  ['worker-in-progress', workerInProgress],
  ['worker-finalizing', workerInFinalizing],
  ['worker-mid-delivery', workerMidDelivery],
  ['temporal-mid-batch', temporalMidBatch],
  ['postgres-mid-batch', postgresMidBatch],
  ['postgres-mid-upload', postgresMidUpload],
  ['postgres-mid-finalization', postgresMidFinalization],
  ['postgres-mid-delivery', postgresMidDelivery],
  ['api-mid-upload', apiMidUpload],
  ['api-mid-create', apiMidCreate],
];

const startedAt = new Date();
const results: ScenarioResult[] = [];
let stack: FaultStack | undefined;

describe.sequential('fault injection', () => {
  beforeAll(async () => {
    const logDir = path.join(RESULTS_DIR, 'logs', startedAt.toISOString().replace(/[:.]/g, '-'));
    stack = await FaultStack.start(SCENARIOS.map(([name]) => name), logDir);
  });

  afterAll(async () => {
    if (results.length > 0) {
      const file = await writeResults(results, results.length === SCENARIOS.length, startedAt);
      process.stdout.write(`\n${formatTable(results)}\n\nresults: ${file}\n`);
    }
    await stack?.close();
  });

  for (const [name, run] of SCENARIOS) {
    it(name, async () => {
      const result = await runScenarioRecorded(name, run, stack!, say);
      results.push(result);
      expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    });
  }
});
