/**
 * The changes of a recorded plan, as batches in plan order: inline in the plan, or — once planned —
 * from the store's blob, whose SHA-256 and count are checked as it streams (a consumer inside a
 * transaction rolls back on a mismatch). The batch shape and the plan-time sources are in
 * src/config/changes.ts.
 */
import type { CutPlan } from '../../events/plan.js';
import { BATCH, byteBatches, inlineChanges, readAhead, type ChangeSource } from '../config/changes.js';
import { readBlob } from '../store/blobs.js';
import type { Queryable } from '../store/connection.js';

/** The changes of a recorded plan (from the store: each next batch read while the current one is used). */
export function changesOf(plan: CutPlan, q: Queryable, size = BATCH): ChangeSource {
  if (plan.changes) return inlineChanges(plan.changes, size);
  const set = plan.changeSet!;
  return readAhead(() =>
    byteBatches(readBlob(q, changeSetBlobId(set.sha256), { expectSha256: set.sha256 }), size, set.count),
  );
}

export const changeSetBlobId = (sha256: string) => `changes-${sha256}`;
