import { defineConfig } from 'vitest/config';

// Three tiers by suffix (STYLE.md): unit (pure, no database), int (real PostgreSQL), e2e (the CLI
// as a process against real PostgreSQL). int and e2e share one PostgreSQL: DATABASE_URL when set,
// otherwise an embedded server started once for the run by test/support/global-setup.ts.
// CI asks for a machine-readable report beside the usual output (.ci/run tallies it).
const report = process.env.CUTTER_TEST_REPORT;

export default defineConfig({
  test: {
    // Two test files at a time: the int and e2e files mostly wait on PostgreSQL and child
    // processes, so on this 2-core machine two workers took npm test from 767 s to 453 s (one run
    // each, same load). Every file works in databases of its own (test/support/db.ts).
    maxWorkers: 2,
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
    projects: [
      { test: { name: 'unit', include: ['test/**/*.unit.test.ts'], testTimeout: 60_000 } },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
