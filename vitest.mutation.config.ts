import { defineConfig } from 'vitest/config';

// Stryker's view of the suite (stryker.config.mjs): the unit tier only. The pure core it mutates
// (machines/, events/, src/domain) is meant to be pinned down by tests that need no database.
export default defineConfig({
  test: { include: ['test/**/*.unit.test.ts'], testTimeout: 60_000 },
});
