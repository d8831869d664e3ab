/**
 * The architecture of DESIGN §4 as rules CI runs (`npm run depcheck`): dependencies point inward,
 * the pure core imports nothing with I/O, nothing below the CLI imports it, product code never
 * imports tests, and there are no cycles — between files, and between folders.
 *
 * The folders sit in layers; each may import only the layers below it (the core — machines/,
 * events/, src/domain, src/errors.ts — is below everything):
 *   1. src/store
 *   2. src/config, src/crypto, src/projections
 *   3. src/adapters
 *   4. src/governance, src/workspace (the session and its authority)
 *   5. src/cuts, src/killswitch (the stream commands)
 *   6. src/runner, src/audit
 *   7. src/cli
 * The layer rules below encode this; `no-folder-cycles` catches any folder cycle they miss.
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
      name: 'no-folder-cycles',
      comment:
        'no cycle between folders either (a file-level DAG can still tie two folders together). ' +
        'src/governance <-> src/workspace is the one cycle left (issue #16): exempt until it is split',
      severity: 'error',
      scope: 'folder',
      from: { path: '^(src|machines|events)', pathNot: '^src/(governance|workspace)$' },
      to: { circular: true },
    },
    {
      name: 'store-sits-on-the-core',
      comment: 'src/store (layer 1) imports only the core and itself',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/(store/|domain/|errors\\.ts$)' },
    },
    {
      name: 'config-reads-input-only',
      comment:
        'src/config parses what the operator wrote (config, plan and change files) for everything above ' +
        'it: it imports only the core and the store (blob lines), never an adapter or a command',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config/|store/|domain/|errors\\.ts$)' },
    },
    {
      name: 'crypto-and-projections-sit-on-the-store',
      comment: 'src/crypto and src/projections import only the core, the store and themselves',
      severity: 'error',
      from: { path: '^src/(crypto|projections)/' },
      to: { path: '^src/', pathNot: '^src/($1/|store/|domain/|errors\\.ts$)' },
    },
    {
      name: 'adapters-do-not-drive-the-runner',
      comment:
        'src/adapters import only the core, the store and src/config (the target spec, the change batches): ' +
        'never the runner, the commands, the session or the audit',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/', pathNot: '^src/(adapters/|config/|store/|domain/|errors\\.ts$)' },
    },
    {
      name: 'session-below-the-commands',
      comment: 'src/governance and src/workspace (the session) never import the commands, the runner or the audit',
      severity: 'error',
      from: { path: '^src/(governance|workspace)/' },
      to: { path: '^src/(cuts|killswitch|runner|audit)/' },
    },
    {
      name: 'commands-below-the-runner',
      comment: 'src/cuts and src/killswitch (stream commands) never import the runner or the audit that use them',
      severity: 'error',
      from: { path: '^src/(cuts|killswitch)/' },
      to: { path: '^src/(runner|audit)/' },
    },
    {
      name: 'stream-commands-apart',
      comment: "src/cuts and src/killswitch are two streams' commands: neither imports the other",
      severity: 'error',
      from: { path: '^src/(cuts|killswitch)/' },
      to: { path: '^src/(cuts|killswitch)/', pathNot: '^src/$1/' },
    },
    {
      name: 'runner-and-audit-apart',
      comment: 'the runner acts and the audit checks what was recorded: neither imports the other',
      severity: 'error',
      from: { path: '^src/(runner|audit)/' },
      to: { path: '^src/(runner|audit)/', pathNot: '^src/$1/' },
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
