/** Reading a text file an operator hands cutter (a plan, a config, a governance file). */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The file's text, or InvalidInputError (exit 2) naming `label` and the file: missing, a directory,
 * unreadable, or not valid UTF-8. Never a replacement character in place of a byte it could not
 * decode: what is recorded (a plan's values, a reason) is what the file says, or nothing.
 */
export function readTextFile(file: string, label: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : `cannot be read (${code ?? (err as Error).message})`;
    throw new InvalidInputError(`${label}: ${file} ${why}`);
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    const at = firstInvalidByte(bytes);
    throw new InvalidInputError(`${label}: ${file} is not valid UTF-8 (byte ${at + 1}); save it as UTF-8`);
  }
}

/** The offset of the first byte where `bytes` stops being valid UTF-8 (0 when it cannot tell). */
function firstInvalidByte(bytes: Buffer): number {
  let lo = 0;
  let hi = bytes.length;
  // Binary search on the longest valid prefix (a cut inside a character counts as invalid).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      UTF8.decode(bytes.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  // `lo` bytes decode; a character may be cut at `lo`: step past up to 3 continuation bytes.
  return lo;
}

/**
 * Refuses (InvalidInputError, exit 2, naming `label`) an output path cutter could not write: an
 * existing directory, or a parent that is a file. Checked before anything is recorded, so a
 * command that records and then writes a file (a checkpoint) never records without writing.
 */
export function checkOutputPath(file: string, label: string): void {
  const target = path.resolve(file);
  if (existsSync(target) && statSync(target).isDirectory())
    throw new InvalidInputError(`${label}: ${file} is a directory; name a file`);
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new InvalidInputError(`${label}: ${dir} is not a directory`);
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** Writes `text` to `file` (creating its directory), or InvalidInputError (exit 2) naming `label`. */
export function writeTextFile(file: string, text: string, label: string): void {
  checkOutputPath(file, label);
  try {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileSync(file, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidInputError(`${label}: cannot write ${file} (${code ?? (err as Error).message})`);
  }
}
