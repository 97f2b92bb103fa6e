import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real PTYs and daemons: a 2-core machine runs suites one file at a time.
    fileParallelism: false,
    reporters: ['default'],
    globalSetup: ['test/support/global-teardown.ts'],
  },
});
