/**
 * Replay's reads of cut streams, a batch of whole streams at a time: their heads, their events and
 * their stored projection rows, one statement each per batch, instead of five round trips per
 * stream (read, head, chain re-read, two projections) — replay was bound by those round trips. Each
 * stream gets what `readStream`, `verifyChain` and `projectionRows` give one stream at a time: the
 * same events in version order, the same first break of its hash chain (`checkLinks` against its
 * head row, or the missing head row), the same rows in the same order.
 */
import { checkLinks } from '../store/chain.js';
import { sql, type Queryable } from '../store/connection.js';
import { readStreams } from '../store/read.js';
import type { ChainReport, StoredEvent } from '../store/index.js';

export interface StreamRead {
  streamId: string;
  /** The stream's events in version order (none for a cut that does not exist). */
  stored: StoredEvent[];
  /** The first break of the stream's hash chain, as `verifyChain(streamId)` reports it; undefined when whole. */
  chainBreak: ChainReport['firstBroken'];
  /** The stream's stored `cuts` and `runs` projection rows, as `projectionRows(db, projection, streamId)` reads them. */
  rows: { cuts: Record<string, unknown>[]; runs: Record<string, unknown>[] };
}

type Head = { version: number | string; head_hash: string | null };

/** `streamIds` read in batches of whole streams, about `batchEvents` events each (sized by the heads). */
export async function* readStreamBatches(
  db: Queryable,
  streamIds: string[],
  batchEvents: number,
): AsyncGenerator<StreamRead[]> {
  if (streamIds.length === 0) return;
  const heads = new Map<string, Head>(
    (
      await db.query(
        sql`SELECT stream_id, version, head_hash FROM cutter.streams WHERE stream_id = ANY(${streamIds}::text[])`,
      )
    ).map((r: Head & { stream_id: string }) => [r.stream_id, r]),
  );
  let batch: string[] = [];
  let size = 0;
  for (const streamId of streamIds) {
    batch.push(streamId);
    size += Math.max(1, Number(heads.get(streamId)?.version ?? 1));
    if (size >= batchEvents) {
      yield await readBatch(db, batch, heads);
      batch = [];
      size = 0;
    }
  }
  if (batch.length) yield await readBatch(db, batch, heads);
}

async function readBatch(db: Queryable, streamIds: string[], heads: Map<string, Head>): Promise<StreamRead[]> {
  const events = await readStreams(db, streamIds);
  const rows = await projectionRowsOf(db, streamIds);
  return streamIds.map((streamId) => {
    const stored = events.get(streamId) ?? [];
    return {
      streamId,
      stored,
      chainBreak: chainBreak(streamId, stored, heads.get(streamId)),
      rows: rows.get(streamId) ?? { cuts: [], runs: [] },
    };
  });
}

/** `verifyChain(streamId)`'s first break, from the events already read and the stream's head row. */
function chainBreak(streamId: string, stored: StoredEvent[], head: Head | undefined): ChainReport['firstBroken'] {
  if (!head) {
    const last = stored.at(-1);
    return last
      ? {
          streamId,
          version: last.version,
          eventId: last.eventId,
          reason: 'the stream has events but no head row (deleted?)',
        }
      : undefined;
  }
  return checkLinks(stored, { version: Number(head.version), hash: head.head_hash });
}

/** The `cuts` and `runs` rows of each stream, each projection's in `row_key` order (C collation). */
async function projectionRowsOf(db: Queryable, streamIds: string[]): Promise<Map<string, StreamRead['rows']>> {
  const found = await db.query(sql`
    SELECT stream_id, projection, row FROM cutter.projection_rows
    WHERE projection IN ('cuts', 'runs') AND stream_id = ANY(${streamIds}::text[])
    ORDER BY stream_id, projection, row_key COLLATE "C"`);
  const out = new Map<string, StreamRead['rows']>();
  for (const r of found as { stream_id: string; projection: 'cuts' | 'runs'; row: Record<string, unknown> }[]) {
    let of = out.get(r.stream_id);
    if (!of) out.set(r.stream_id, (of = { cuts: [], runs: [] }));
    of[r.projection].push(r.row);
  }
  return out;
}
