/**
 * Signed checkpoints (DESIGN §7, anchors): a member's signed statement of every stream's head in
 * the store — id, version and chain hash — with the governance version and the time, recorded in
 * the `checkpoints` stream and exportable as a small JSON file kept outside the store. Anyone who
 * keeps a checkpoint can later prove the log still extends it: a stream shorter than its
 * checkpointed version, missing, or with another hash at that version was truncated or rewritten.
 */
import { z } from 'zod';
import { hashOf } from './canonical.js';
import { Hash, Iso } from './common.js';
import { EventSignature } from './signature.js';
import { CHECKPOINT_STREAM } from './streams.js';

export { CHECKPOINT_STREAM };

export const StreamHead = z.strictObject({
  streamId: z.string().min(1),
  version: z.number().int().min(1),
  hash: Hash,
  /**
   * Where the head event sits in commit order (its transaction id and global position; absent in
   * checkpoints recorded before it was). Replay judges the kill-switch and the governance in force
   * by commit order, which no hash covers: an owner who deletes an event and inserts it again, byte
   * for byte, moves it. A checkpoint that pins its heads' places names such a move.
   */
  committed: z
    .strictObject({ transactionId: z.string().regex(/^\d+$/), globalPosition: z.string().regex(/^\d+$/) })
    .optional(),
});
export type StreamHead = z.infer<typeof StreamHead>;

export const CheckpointRecorded = z.strictObject({
  /** Every stream of the store but `checkpoints` itself, sorted by id. */
  streams: z.array(StreamHead),
  /** SHA-256 of the canonical JSON of `streams`: the statement's digest, quoted by ledger rows. */
  root: Hash,
  governanceVersion: z.number().int().min(1),
  /** The checkpoint this one extends (its stream version and root), verified before signing. */
  previous: z.strictObject({ version: z.number().int().min(1), root: Hash }).nullable(),
  at: Iso,
});
export type CheckpointRecorded = z.infer<typeof CheckpointRecorded>;

/** The root of a list of stream heads (sorted by stream id). */
export function headsRoot(streams: StreamHead[]): string {
  return hashOf(streams);
}

/** A checkpoint as a file: the signed event, enough to verify it against any copy of the store. */
export const CheckpointFile = z.strictObject({
  format: z.literal('cutter-checkpoint/1'),
  /** The trust root the signer's governance descends from. */
  trustRoot: Hash,
  event: z.strictObject({
    streamId: z.literal(CHECKPOINT_STREAM),
    version: z.number().int().min(1),
    eventId: z.string().uuid(),
    type: z.literal('CheckpointRecorded'),
    schemaVersion: z.number().int().min(1),
    data: CheckpointRecorded,
    signature: EventSignature,
    /** The event's chain hash in the store. */
    hash: Hash,
  }),
});
export type CheckpointFile = z.infer<typeof CheckpointFile>;
