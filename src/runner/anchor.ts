/**
 * What a live run's and a revert's ledger row in the target records besides the cut (DESIGN §7
 * anchors): the cut stream's head as the runner saw it and the latest checkpoint's root, so the
 * target itself carries evidence that `cutter replay --targets` holds the log against.
 */
import { CHECKPOINT_STREAM } from '../../events/checkpoint.js';
import type { EventStore } from '../store/index.js';
import { cutStreamId } from '../../events/streams.js';
import { fieldOf } from '../../events/index.js';

export interface LedgerAnchor {
  storeHead: { version: number; hash: string } | null;
  checkpoint: { version: number; root: string } | null;
}

/** What the target's ledger row carries: the cut stream's head and the latest checkpoint. Reads only. */
export async function anchorOf(store: EventStore, cutId: string): Promise<LedgerAnchor> {
  const head = (await store.readStream(cutStreamId(cutId))).at(-1);
  const v = await store.streamVersion(CHECKPOINT_STREAM);
  const last = v > 0 ? (await store.readStream(CHECKPOINT_STREAM, { fromVersion: v })).at(-1) : undefined;
  return {
    storeHead: head ? { version: head.version, hash: head.hash } : null,
    checkpoint:
      last && typeof fieldOf(last.data, 'root') === 'string'
        ? { version: last.version, root: String(fieldOf(last.data, 'root')) }
        : null,
  };
}
