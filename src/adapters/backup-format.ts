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
 * Characters of entry text per batch, at most (plus the entry that reaches the bound): revert
 * sends a batch's rows to PostgreSQL as one JSON text, and a JavaScript string holds at most
 * 2^29 - 24 characters, so 5,000 rows of ~110 kB (a table of documents) made one that could not
 * exist. Batch boundaries change nothing revert records or checks (both go row by row).
 */
export const BATCH_ROW_CHARS = 8 * 1024 * 1024;

/**
 * Reads a decrypted backup's lines: the header, then the entries in batches of at most `size`
 * entries and about `maxChars` characters. `onHeader` sees the header before any entry is yielded
 * (and may throw to refuse a backup of another cut).
 */
export async function* backupEntries(
  lines: AsyncIterable<string>,
  size = BATCH,
  onHeader?: (h: BackupHeader) => void,
  maxChars = BATCH_ROW_CHARS,
): AsyncGenerator<BackupEntry[], BackupHeader | undefined> {
  let header: BackupHeader | undefined;
  let batch: BackupEntry[] = [];
  let chars = 0;
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
    chars += line.length;
    if (batch.length >= size || chars >= maxChars) {
      yield batch;
      batch = [];
      chars = 0;
    }
  }
  if (batch.length) yield batch;
  return header;
}
