// Mutation testing of the pure core: `npm run mutation` (not part of `npm test`).
// Mutates machines/, events/ and src/domain (the replay and trust checks live there) and runs the
// unit tier against each mutant. The HTML and JSON reports go to reports/mutation/.
// One file while iterating: `npx stryker run --concurrency 1 --mutate src/domain/replay.ts`.
// docs/TESTING.md keeps the score and every surviving mutant with the reason it is equivalent.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['machines/**/*.ts', 'events/**/*.ts', 'src/domain/**/*.ts', '!machines/diagram.ts', '!src/domain/index.ts'],
  coverageAnalysis: 'perTest',
  // Not incremental: it reused stale "Survived" verdicts for module-level constants after new tests
  // were added (a run reported 92.24% where a forced run measured the truth). Every run is a full one.
  incremental: false,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  timeoutMS: 20_000,
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
