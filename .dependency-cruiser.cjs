/**
 * The architecture of DESIGN §4 as rules CI runs (`npm run depcheck`): dependencies point inward,
 * the pure core imports nothing with I/O, nothing below the CLI imports it, product code never
 * imports tests, and there are no cycles — between files, and between folders.
 *
 * The folders sit in layers; each may import only the layers below it (the core — machines/,
 * events/, src/domain, src/errors.ts — is below everything):
 *   1. src/store
 *   2. src/config, src/crypto, src/commands (the command handler)
 *   3. src/projections, src/adapters
 *   4. src/governance (authority), then src/workspace (the session)
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
      comment: 'no cycle between folders either (a file-level DAG can still tie two folders together)',
      severity: 'error',
      scope: 'folder',
      from: { path: '^(src|machines|events)' },
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
      name: 'crypto-sits-on-the-store',
      comment: 'src/crypto (signatures, signers, backup encryption) imports only the core and the store',
      severity: 'error',
      from: { path: '^src/crypto/' },
      to: { path: '^src/', pathNot: '^src/(crypto/|store/|domain/|errors\\.ts$)' },
    },
    {
      name: 'projections-fold-the-store',
      comment:
        'src/projections import only the core, the store and src/crypto (a rebuild verifies approval ' +
        'signatures in the verify pool)',
      severity: 'error',
      from: { path: '^src/projections/' },
      to: { path: '^src/', pathNot: '^src/(projections/|store/|crypto/|domain/|errors\\.ts$)' },
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
      name: 'authority-below-the-session',
      comment: 'src/governance (authority at call time) is handed the store, never the session that holds it',
      severity: 'error',
      from: { path: '^src/governance/' },
      to: { path: '^src/workspace/' },
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
