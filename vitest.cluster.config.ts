import { defineConfig } from 'vitest/config';

/**
 * `npm run test:cluster`: the service on a real Temporal server on Postgres
 * (scripts/cluster) with several API and worker processes, under faults
 * (test/cluster). Not part of `npm test`: it builds the server once (minutes)
 * and takes about a quarter hour. One file, one cluster, scenarios in order.
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // Each scenario's waits are bounded (test/faults' TERMINAL_WAIT_MS and friends); this is the backstop.
    testTimeout: 900_000,
    // The first run builds temporal-server from source (about 4 min on 2 cores).
    hookTimeout: 1_200_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
