/** The backup vault: encrypted backups kept in the store database (cutter.backups, append-only). */
import { sha256 } from '../../events/canonical.js';
import { sql, type Queryable } from '../store/connection.js';

export interface BackupRow {
  backupId: string;
  cutId: string;
  runId: string;
  plaintextSha256: string;
  rowCount: number;
  recipients: string[];
  ciphertext: string;
}

/** The backup id of a run: deterministic, so a retried backup phase finds its own. */
export function backupIdFor(cutId: string, runId: string): string {
  return `bk-${sha256(`${cutId}:${runId}`).slice(0, 16)}`;
}

/** Stores a backup; a second store of the same id is a no-op. */
export async function storeBackup(q: Queryable, b: BackupRow): Promise<void> {
  await q.query(sql`
    INSERT INTO cutter.backups (backup_id, cut_id, run_id, plaintext_sha256, row_count, recipients, ciphertext)
    VALUES (${b.backupId}, ${b.cutId}, ${b.runId}, ${b.plaintextSha256}, ${b.rowCount}, ${b.recipients}, ${b.ciphertext})
    ON CONFLICT (backup_id) DO NOTHING`);
}

export async function loadBackup(q: Queryable, backupId: string): Promise<BackupRow | undefined> {
  const [r] = await q.query(sql`SELECT * FROM cutter.backups WHERE backup_id = ${backupId}`);
  if (!r) return undefined;
  return {
    backupId: r.backup_id,
    cutId: r.cut_id,
    runId: r.run_id,
    plaintextSha256: r.plaintext_sha256,
    rowCount: r.row_count,
    recipients: r.recipients,
    ciphertext: r.ciphertext,
  };
}
