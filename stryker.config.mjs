// Mutation testing of the pure core: `npm run mutation` (not part of `npm test`).
// Mutates machines/, events/ and src/domain (the replay and trust checks live there) and runs the
// unit tier against each mutant. The HTML and JSON reports go to reports/mutation/.
// One file while iterating: `npx stryker run --mutate src/domain/replay.ts`.
// docs/TESTING.md keeps the score and every surviving mutant with the reason it is equivalent.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['machines/**/*.ts', 'events/**/*.ts', 'src/domain/**/*.ts', '!machines/diagram.ts', '!src/domain/index.ts'],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  timeoutMS: 20_000,
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
