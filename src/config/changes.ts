/**
 * A plan's changes as batches in plan order: the shape every phase reads (`ChangeSource`), and the
 * two sources a plan file gives — changes inline in the plan, or a validated change file on disk.
 * It lives beside the plan loader because the loader hands one out; the adapters consume it, and a
 * recorded plan's changes (read back from the store's blob) are built from these batches in
 * src/cuts/changes.ts.
 */
import { createReadStream } from 'node:fs';
import type { Change } from '../../events/plan.js';
import { VerificationFailedError } from '../errors.js';
import { lines } from '../store/blobs.js';

/** Changes per batch: every phase walks the plan 5,000 changes at a time. */
export const BATCH = 5000;

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
 * Batches of validated change lines (blank lines skipped), never parsed here: PostgreSQL splits
 * them. Throws VerificationFailedError at the end when `expectCount` is given and differs.
 */
export async function* lineBatches(
  source: AsyncIterable<string>,
  size: number,
  expectCount?: number,
): AsyncGenerator<ChangeBatch> {
  let batch: string[] = [];
  let count = 0;
  for await (const line of source) {
    if (line.trim() === '') continue;
    batch.push(line);
    count++;
    if (batch.length >= size) {
      yield { json: `[${batch.join(',')}]`, count: batch.length };
      batch = [];
    }
  }
  if (batch.length) yield { json: `[${batch.join(',')}]`, count: batch.length };
  if (expectCount !== undefined && count !== expectCount)
    throw new VerificationFailedError(`change set: ${count} changes read, ${expectCount} recorded`);
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
  return () => lineBatches(lines(createReadStream(file)), size);
}
