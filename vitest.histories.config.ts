import { defineConfig } from 'vitest/config';

/** `npm run record:histories`: writes test/histories/*.json from real runs on the time-skipping server. */
export default defineConfig({
  test: {
    include: ['test/histories/record-histories.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
