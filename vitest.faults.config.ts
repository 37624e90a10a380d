import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the fault-injection suite (test/faults), kept out of
 * `npm test` because it kills real servers and takes 5 to 15 minutes.
 * One file, one stack, scenarios in order.
 */
export default defineConfig({
  test: {
    // Not *.test.ts, so that `npm test` (vitest.config.ts: test/**/*.test.ts) never starts it.
    include: ['test/faults/**/*.faults.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // A scenario waits at most a few bounded minutes (see TERMINAL_WAIT_MS); this is the backstop.
    testTimeout: 600_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
