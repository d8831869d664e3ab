/**
 * The backup vault's rows: encrypted backups kept in the store database, append-only
 * (`cutter.backups`, created by the store's first migration). A backup row names its ciphertext
 * blob (cutter.blobs, streamed in chunks); backups from before streaming keep their armored
 * ciphertext inline. Nothing here decrypts: the ciphertext is made and opened by src/crypto/backup.ts.
 */
import { sha256 } from '../../events/canonical.js';
import { readBlob } from './blobs.js';
import { sql, type Queryable } from './connection.js';

export interface BackupRow {
  backupId: string;
  cutId: string;
  runId: string;
  plaintextSha256: string;
  rowCount: number;
  recipients: string[];
  /** Inline armored ciphertext (backups written before blobs), or undefined when in a blob. */
  ciphertext?: string;
  blobId?: string;
}

/** The backup id of a run: deterministic, so a retried backup phase finds its own. */
export function backupIdFor(cutId: string, runId: string): string {
  return `bk-${sha256(`${cutId}:${runId}`).slice(0, 16)}`;
}

/** Records a backup whose ciphertext is already in blob `blobId` (same transaction as the blob). */
export async function recordBackup(q: Queryable, b: Omit<BackupRow, 'ciphertext'> & { blobId: string }): Promise<void> {
  await q.query(sql`
    INSERT INTO cutter.backups (backup_id, cut_id, run_id, plaintext_sha256, row_count, recipients, blob_id)
    VALUES (${b.backupId}, ${b.cutId}, ${b.runId}, ${b.plaintextSha256}, ${b.rowCount}, ${b.recipients}, ${b.blobId})`);
}

/** The backup row of `backupId`, or undefined when none was recorded. */
export async function loadBackup(q: Queryable, backupId: string): Promise<BackupRow | undefined> {
  const [r] = await q.query(
    sql`SELECT backup_id, cut_id, run_id, plaintext_sha256, row_count, recipients, ciphertext, blob_id
      FROM cutter.backups WHERE backup_id = ${backupId}`,
  );
  if (!r) return undefined;
  return {
    backupId: r.backup_id,
    cutId: r.cut_id,
    runId: r.run_id,
    plaintextSha256: r.plaintext_sha256,
    rowCount: r.row_count,
    recipients: r.recipients,
    ...(r.ciphertext ? { ciphertext: r.ciphertext } : {}),
    ...(r.blob_id ? { blobId: r.blob_id } : {}),
  };
}

/** The stored ciphertext: the armored text of an old backup, or the blob's byte stream. */
export function ciphertextOf(q: Queryable, b: BackupRow): string | AsyncIterable<Uint8Array> {
  return b.ciphertext ?? readBlob(q, b.blobId!);
}
