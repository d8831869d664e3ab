/**
 * Reading: one stream by version, or everything in commit-safe global order. The global cursor is
 * (transaction id, position), and only transactions older than the oldest one still running
 * (`pg_snapshot_xmin`) are returned, so a transaction that took a lower position but commits later
 * is never skipped: its rows become visible before the cursor can pass them.
 */
import { sql, type Queryable } from './connection.js';
import { START, type Cursor, type StoredEvent } from './types.js';

const COLUMNS = sql`global_position, transaction_id::text AS transaction_id, stream_id, version, event_id::text AS event_id,
  type, data, metadata, recorded_at, prev_hash, hash`;

/** One row of cutter.events as a StoredEvent (positions as decimal strings). Pure. */
export function rowToEvent(r: any): StoredEvent {
  return {
    eventId: r.event_id,
    streamId: r.stream_id,
    version: r.version,
    globalPosition: String(r.global_position),
    transactionId: r.transaction_id,
    type: r.type,
    data: r.data,
    metadata: r.metadata,
    recordedAt: (r.recorded_at as Date).toISOString(),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** A stream's events in version order, optionally within [fromVersion, toVersion]. */
export async function readStream(
  q: Queryable,
  streamId: string,
  opts: { fromVersion?: number; toVersion?: number } = {},
): Promise<StoredEvent[]> {
  const rows = await q.query(sql`
    SELECT ${COLUMNS} FROM cutter.events
    WHERE stream_id = ${streamId} AND version >= ${opts.fromVersion ?? 1} AND version <= ${opts.toVersion ?? 2147483647}
    ORDER BY version`);
  return rows.map(rowToEvent);
}

/**
 * The events of several streams, each in version order (one statement): what `readStream` gives for
 * each of them, read at one snapshot. A stream with no events is absent from the map.
 */
export async function readStreams(q: Queryable, streamIds: string[]): Promise<Map<string, StoredEvent[]>> {
  const rows = await q.query(sql`
    SELECT ${COLUMNS} FROM cutter.events WHERE stream_id = ANY(${streamIds}::text[]) ORDER BY stream_id, version`);
  const out = new Map<string, StoredEvent[]>();
  for (const r of rows) {
    const e = rowToEvent(r);
    const list = out.get(e.streamId);
    if (list) list.push(e);
    else out.set(e.streamId, [e]);
  }
  return out;
}

/** The stream's current version (0 when it does not exist). */
export async function streamVersion(q: Queryable, streamId: string): Promise<number> {
  const [row] = await q.query(sql`SELECT version FROM cutter.streams WHERE stream_id = ${streamId}`);
  return row ? Number(row.version) : 0;
}

/** Up to `limit` events after `after`, in commit-safe order, and the cursor to continue from. */
export async function readAll(
  q: Queryable,
  opts: { after?: Cursor; limit?: number; everything?: boolean } = {},
): Promise<{ events: StoredEvent[]; next: Cursor }> {
  const after = opts.after ?? START;
  // A follower stops below the oldest transaction still running anywhere on the server (it might
  // yet commit a lower position): gapless, but behind while any transaction — even in another
  // database — stays open. `everything` reads every committed event now (replay, an audit at a point in time).
  const horizon = opts.everything ? sql`` : sql`AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;
  const rows = await q.query(sql`
    SELECT ${COLUMNS} FROM cutter.events
    WHERE (transaction_id, global_position) > (${after.txid}::xid8, ${after.position}::bigint)
      ${horizon}
    ORDER BY transaction_id, global_position
    LIMIT ${opts.limit ?? 1000}`);
  const events = rows.map(rowToEvent);
  const last = events[events.length - 1];
  return { events, next: last ? { txid: last.transactionId, position: last.globalPosition } : after };
}

/** Every stream id with its version, for `replay --all` and rebuilds. */
export async function listStreams(q: Queryable, prefix = ''): Promise<{ streamId: string; version: number }[]> {
  const rows = await q.query(
    sql`SELECT stream_id, version FROM cutter.streams WHERE stream_id LIKE ${prefix + '%'} AND version > 0 ORDER BY stream_id`,
  );
  return rows.map((r) => ({ streamId: r.stream_id, version: Number(r.version) }));
}
