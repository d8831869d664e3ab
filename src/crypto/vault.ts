/**
 * The backup vault's old address. Its rows are store data and moved to src/store/backups.ts (the
 * table is the store's, nothing there is cryptography); this module only re-exports them for the
 * importers not yet moved (src/runner/live.ts, src/runner/revert.ts, src/audit/replay.ts).
 * Import src/store/backups.ts in new code; delete this file once those three do.
 */
export { backupIdFor, ciphertextOf, loadBackup, recordBackup, type BackupRow } from '../store/backups.js';
