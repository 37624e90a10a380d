import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTable } from '../faults/support/report.js';
import { runScenarioRecorded, type ScenarioResult } from '../faults/support/scenario-run.js';
import { baseline, postgresMidBatch, type Scenario, temporalMidBatch, workerFinalizing, workerInProgress, workerMidDelivery, workerValidating } from './scenarios.js';
import { CLUSTER_RESULTS_DIR, writeClusterResults } from './support/cluster-report.js';
import { API_PROCESSES, ClusterStack, say, WORKER_PROCESSES } from './support/cluster-stack.js';

/**
 * The service on a real Temporal server (built from source) on Postgres, with
 * two API and three worker processes, under SIGKILLs of a worker in each
 * phase, of the Temporal server and of Postgres. See docs/CLUSTER.md.
 */

const SCENARIOS: [name: string, run: Scenario][] = [
  ['baseline', baseline],
  ['worker-validating', workerValidating],
  ['worker-in-progress', workerInProgress],
  ['worker-finalizing', workerFinalizing],
  ['worker-mid-delivery', workerMidDelivery],
  ['temporal-mid-batch', temporalMidBatch],
  ['postgres-mid-batch', postgresMidBatch],
];

const startedAt = new Date();
const results: ScenarioResult[] = [];
let stack: ClusterStack | undefined;

describe.sequential('cluster', () => {
  beforeAll(async () => {
    const logDir = path.join(CLUSTER_RESULTS_DIR, 'logs', startedAt.toISOString().replace(/[:.]/g, '-'));
    stack = await ClusterStack.start(SCENARIOS.map(([name]) => name), logDir);
  });

  afterAll(async () => {
    if (results.length > 0) {
      const file = await writeClusterResults(results, results.length === SCENARIOS.length, startedAt, {
        temporal: 'temporal-server v1.29.1 (go install), postgres12 store and visibility, one process',
        api_processes: API_PROCESSES,
        worker_processes: WORKER_PROCESSES,
        upstream_latency_ms: 20,
      });
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
