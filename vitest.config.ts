import { defineConfig } from 'vitest/config';

// Three tiers by suffix (STYLE.md): unit (pure, no database), int (real PostgreSQL), e2e (the CLI
// as a process against real PostgreSQL). int and e2e share one PostgreSQL: DATABASE_URL when set,
// otherwise an embedded server started once for the run by test/support/global-setup.ts.
export default defineConfig({
  test: {
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
