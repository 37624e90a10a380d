import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the fault-injection suite (test/faults), kept out of
 * `npm test` because it kills real servers and takes about a quarter hour.
 * One file, one stack, scenarios in order.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // A scenario waits at most a few bounded minutes (see TERMINAL_WAIT_MS); this is the backstop.
    testTimeout: 600_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
