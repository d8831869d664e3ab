import { defineConfig } from 'vitest/config';

// Stryker's view of the suite (stryker.config.mjs): the unit tests that pin down the pure core
// (machines/, events/, src/domain) — the core-* specs written against the mutants, the decider
// (its model-based property included), replay and governance specs. Each static mutant (a schema
// or machine definition evaluated at import) re-runs all of them, so slow unit tests that test
// other parts (the report's Chromium render, SSH keys, configs) stay out.
export default defineConfig({
  test: {
    include: [
      'test/unit/core-*.unit.test.ts',
      'test/unit/decider.unit.test.ts',
      'test/unit/replay.unit.test.ts',
      'test/unit/governance.unit.test.ts',
    ],
    testTimeout: 60_000,
  },
});
