/**
 * The architecture of DESIGN §4 as rules CI runs (`npm run depcheck`): dependencies point inward,
 * the pure core imports nothing with I/O, nothing below the CLI imports it, product code never
 * imports tests, and there are no cycles.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: { path: '^(src|machines|events)/' }, to: { circular: true } },
    {
      name: 'core-is-pure',
      comment: 'machines/ and events/ import nothing from src/',
      severity: 'error',
      from: { path: '^(machines|events)/' },
      to: { path: '^src/' },
    },
    {
      name: 'domain-is-pure',
      comment: 'src/domain imports only the core, the errors and node:crypto — no store, no config, no I/O',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/(domain/|errors\\.ts$)' },
    },
    {
      name: 'store-knows-no-domain',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^(src/(domain|runner|audit|cuts|governance|workspace|cli)|machines)/' },
    },
    {
      name: 'the-command-handler-is-generic',
      comment: 'src/commands knows the store and the errors only: deciders and signing are handed in',
      severity: 'error',
      from: { path: '^src/commands/' },
      to: { path: '^(src|machines|events)/', pathNot: '^src/(commands/|store/|errors\\.ts$)' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'adapters-do-not-drive-the-runner',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(runner|cuts|audit|workspace)/' },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      from: { path: '^(src|machines|events)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
