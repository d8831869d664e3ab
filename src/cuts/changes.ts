/**
 * Where a cut's changes come from, as batches in plan order: inline in the plan, from the change
 * file being planned, or — once planned — from the store's blob, whose SHA-256 and count are
 * checked as it streams (a consumer inside a transaction rolls back on a mismatch).
 */
import { createReadStream } from 'node:fs';
import type { Change, CutPlan } from '../../events/plan.js';
import { BATCH, type ChangeBatch, type ChangeSource } from '../adapters/images.js';
import { VerificationFailedError } from '../errors.js';
import { lines, readBlob } from '../store/blobs.js';
import type { Queryable } from '../store/connection.js';

export function inlineChanges(changes: Change[], size = BATCH): ChangeSource {
  return async function* () {
    for (let i = 0; i < changes.length; i += size) {
      const slice = changes.slice(i, i + size);
      yield { json: JSON.stringify(slice), count: slice.length };
    }
  };
}

/** Batches of validated change lines, never parsed here: PostgreSQL splits them. */
async function* parsed(source: AsyncIterable<string>, size: number, expectCount?: number): AsyncGenerator<ChangeBatch> {
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

/** A validated change file on disk (plan time, before it is stored). */
export function fileChanges(file: string, size = BATCH): ChangeSource {
  return () => parsed(lines(createReadStream(file)), size);
}

/** The changes of a recorded plan. */
export function changesOf(plan: CutPlan, q: Queryable, size = BATCH): ChangeSource {
  if (plan.changes) return inlineChanges(plan.changes, size);
  const set = plan.changeSet!;
  return () => parsed(lines(readBlob(q, changeSetBlobId(set.sha256), { expectSha256: set.sha256 })), size, set.count);
}

export const changeSetBlobId = (sha256: string) => `changes-${sha256}`;
