/**
 * The backup's plaintext (what is encrypted), `cutter-backup/2`: one header line of canonical JSON,
 * then one line per planned key, in plan order: the key and, after a tab, the full row, both as
 * PostgreSQL's jsonb text (exact: numbers are never parsed), or `null` when the key was absent.
 * Any stock `gpg --decrypt` shows it; revert streams it back batch by batch.
 */
import { canonicalJson } from '../../events/canonical.js';
import { VerificationFailedError } from '../errors.js';
import type { BackupEntry } from './port.js';
import { BATCH } from '../config/changes.js';

export const BACKUP_FORMAT = 'cutter-backup/2';

export interface BackupHeader {
  format: string;
  cutId: string;
  planHash: string;
  target: string;
  table: string;
  key: string[];
}

export const headerLine = (h: Omit<BackupHeader, 'format'>) => `${canonicalJson({ format: BACKUP_FORMAT, ...h })}\n`;

export const entryLine = (key: string, row: string | null) => `${key}\t${row ?? 'null'}\n`;

/**
 * Reads a decrypted backup's lines: the header, then the entries in batches. `onHeader` sees the
 * header before any entry is yielded (and may throw to refuse a backup of another cut).
 */
export async function* backupEntries(
  lines: AsyncIterable<string>,
  size = BATCH,
  onHeader?: (h: BackupHeader) => void,
): AsyncGenerator<BackupEntry[], BackupHeader | undefined> {
  let header: BackupHeader | undefined;
  let batch: BackupEntry[] = [];
  for await (const line of lines) {
    if (!header) {
      const first = JSON.parse(line) as BackupHeader;
      if (first.format !== BACKUP_FORMAT)
        throw new VerificationFailedError(`backup: unknown format ${JSON.stringify(first.format)}`);
      header = first;
      onHeader?.(first);
      continue;
    }
    if (line === '') continue;
    const tab = line.indexOf('\t');
    if (tab < 0) throw new VerificationFailedError('backup: malformed entry line');
    const row = line.slice(tab + 1);
    batch.push({ key: line.slice(0, tab), row: row === 'null' ? null : row });
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
  return header;
}
