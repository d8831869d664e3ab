/**
 * A plan's changes as batches in plan order: the shape every phase reads (`ChangeSource`), and the
 * two sources a plan file gives — changes inline in the plan, or a validated change file on disk.
 * It lives beside the plan loader because the loader hands one out; the adapters consume it, and a
 * recorded plan's changes (read back from the store's blob) are built from these batches in
 * src/cuts/changes.ts.
 */
import { createReadStream } from 'node:fs';
import type { Change } from '../../events/plan.js';
import { InvalidInputError, VerificationFailedError } from '../errors.js';

/** Changes per batch: every phase walks the plan 5,000 changes at a time. */
export const BATCH = 5000;

/**
 * The longest batch text: a batch is one JavaScript string, at most 2^29 - 24 characters (UTF-8
 * bytes are never fewer than the characters they decode to). Changes averaging over ~100 kB a line
 * reach it; `byteBatches` then refuses the file by name instead of failing with "Invalid string
 * length".
 */
export const MAX_BATCH_BYTES = 2 ** 29 - 24;

/** A batch of changes: the JSON array text of `count` changes (`{"upsert": …}` / `{"delete": …}`). */
export interface ChangeBatch {
  json: string;
  count: number;
}

/** Where a phase reads the plan's changes from: batches in plan order, re-readable. */
export type ChangeSource = () => AsyncIterable<ChangeBatch>;

/** The changes held in a plan, `size` at a time. */
export function inlineChanges(changes: Change[], size = BATCH): ChangeSource {
  return async function* () {
    for (let i = 0; i < changes.length; i += size) {
      const slice = changes.slice(i, i + size);
      yield { json: JSON.stringify(slice), count: slice.length };
    }
  };
}

/**
 * Batches of validated change lines, never parsed here (PostgreSQL splits them): each batch the JSON
 * array of up to `size` lines. Split on the bytes: a line is decoded (and its UTF-8 checked) only as
 * part of its batch's JSON text, not one string per line (decoding and joining line strings made
 * every pass over a large change set cost more in Node than on the server). Lines are split on LF
 * with a trailing CR dropped, blank lines (`trim() === ''`) skipped, a leading byte-order mark
 * dropped, invalid UTF-8 refused with the decoder's own error; the last line needs no newline.
 * Throws VerificationFailedError at the end when `expectCount` is given and differs.
 */
export async function* byteBatches(
  source: AsyncIterable<Uint8Array>,
  size: number,
  expectCount?: number,
  maxBytes = MAX_BATCH_BYTES,
): AsyncGenerator<ChangeBatch> {
  const batch = new LineBatch(maxBytes);
  let count = 0;
  let rest: Buffer = Buffer.alloc(0);
  for await (const part of withoutBom(source)) {
    const buf = rest.length ? Buffer.concat([rest, part]) : part;
    let start = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
      if (batch.add(buf.subarray(start, nl), count + 1)) count++;
      start = nl + 1;
      if (batch.lines >= size) yield batch.take();
    }
    // Copied: the source may reuse its chunk's memory.
    rest = Buffer.from(buf.subarray(start));
  }
  if (rest.length && batch.add(rest, count + 1)) count++;
  if (batch.lines) yield batch.take();
  if (expectCount !== undefined && count !== expectCount)
    throw new VerificationFailedError(`change set: ${count} changes read, ${expectCount} recorded`);
}

/** The stream's bytes without a byte-order mark at its very start (the streaming decoder drops it there only). */
async function* withoutBom(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let head = Buffer.alloc(0);
  let opened = false;
  for await (const part of source) {
    const buf = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    if (opened) {
      yield buf;
      continue;
    }
    head = Buffer.concat([head, buf]);
    if (head.length < BOM.length) continue;
    opened = true;
    yield head.subarray(0, BOM.length).equals(BOM) ? head.subarray(BOM.length) : head;
  }
  // Shorter than a byte-order mark: no whole one to drop.
  if (!opened) yield head;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const [COMMA, OPEN, CLOSE, CR] = [44, 91, 93, 13];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The non-blank lines of a batch as byte ranges, joined into the batch's JSON array text when full. */
class LineBatch {
  private parts: Buffer[] = [];
  private bytes = 2;
  lines = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds a line (without its LF), the plan's change number `n` if it is not blank; false when it is blank. */
  add(line: Buffer, n: number): boolean {
    const text = line.at(-1) === CR ? line.subarray(0, -1) : line;
    if (isBlank(text)) return false;
    this.bytes += text.length + (this.lines > 0 ? 1 : 0);
    if (this.bytes > this.maxBytes)
      throw new InvalidInputError(
        `changes: change ${n.toLocaleString('en-US')} would make its batch longer than ` +
          `${Math.floor(this.maxBytes / 2 ** 20)} MiB: cutter reads a plan's changes ${BATCH.toLocaleString('en-US')} at a ` +
          'time, each batch one string, so changes of over ~100 kB a line are not supported',
      );
    this.parts.push(text);
    this.lines++;
    return true;
  }

  take(): ChangeBatch {
    const bytes = Buffer.alloc(this.parts.reduce((n, p) => n + p.length + 1, 1));
    let at = 0;
    bytes[at++] = OPEN;
    for (const [i, p] of this.parts.entries()) {
      if (i > 0) bytes[at++] = COMMA;
      at += p.copy(bytes, at);
    }
    bytes[at++] = CLOSE;
    const batch = { json: decoder.decode(bytes.subarray(0, at)), count: this.lines };
    this.parts = [];
    this.lines = 0;
    this.bytes = 2;
    return batch;
  }
}

/**
 * `line.trim() === ''` on the bytes: any ASCII byte that is not whitespace settles it; a line of
 * ASCII whitespace is blank; only a line with other bytes and no such ASCII byte is decoded (and
 * checked as UTF-8) to ask `trim` (it also strips Unicode spaces).
 */
function isBlank(line: Buffer): boolean {
  let ascii = true;
  for (const b of line) {
    if (b >= 0x80) ascii = false;
    else if (b !== 0x20 && (b < 0x09 || b > 0x0d)) return false;
  }
  return ascii || decoder.decode(line).trim() === '';
}

/**
 * The batches of `source`, each next one read while the consumer works on the current one: a
 * phase's statement runs on the target while Node reads and splits the next batch from the store,
 * so the two overlap instead of taking turns. Same batches, same order, same errors (an error
 * reading ahead surfaces when the consumer reaches that batch).
 */
export function readAhead(source: ChangeSource): ChangeSource {
  return async function* () {
    const it = source()[Symbol.asyncIterator]();
    let next = pending(it.next());
    try {
      for (let r = await next; !r.done; r = await next) {
        next = pending(it.next());
        yield r.value;
      }
    } finally {
      // A consumer that stopped early (or failed) leaves one read in flight: let it settle before
      // closing the source, so no query of it outlives the phase.
      await next.catch(() => undefined);
      await it.return?.();
    }
  };
}

/** A promise marked handled now (it may reject before it is awaited), still rejecting when awaited. */
function pending<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** A validated change file on disk (plan time, before it is stored). */
export function fileChanges(file: string, size = BATCH): ChangeSource {
  return () => byteBatches(createReadStream(file), size);
}
