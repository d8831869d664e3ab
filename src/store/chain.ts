/**
 * The per-stream hash chain, verified in Node independently of how PostgreSQL renders JSON: each
 * event's digest is recomputed from its fields, each link from the previous hash, and the stream
 * head must equal the last link. An edit made with triggers disabled breaks a digest; a forged
 * digest breaks the next link; a truncated tail disagrees with the head.
 */
import { sha256 } from '../../events/canonical.js';
import { eventDigest } from './append.js';
import { sql, type Queryable } from './connection.js';
import { rowToEvent } from './read.js';
import type { ChainReport, StoredEvent } from './types.js';

/** The link hash of `event` given the previous link. */
export function linkHash(prev: string | null, streamId: string, version: number, digest: string): string {
  return sha256(`${prev ?? ''}|${streamId}|${version}|${digest}`);
}

/** Checks one stream's events (in version order) and returns the first break, if any. */
export function checkLinks(
  events: StoredEvent[],
  head?: { version: number; hash: string | null },
): ChainReport['firstBroken'] {
  let prev: string | null = null;
  let expectedVersion = 1;
  for (const e of events) {
    const at = { streamId: e.streamId, version: e.version, eventId: e.eventId };
    if (e.version !== expectedVersion)
      return { ...at, reason: `version ${e.version} where ${expectedVersion} was expected (gap or reorder)` };
    if (e.prevHash !== prev) return { ...at, reason: "prev_hash does not match the previous event's hash" };
    const digest = eventDigest(e);
    if (linkHash(prev, e.streamId, e.version, digest) !== e.hash)
      return { ...at, reason: "hash does not match the event's content (edited?)" };
    prev = e.hash;
    expectedVersion++;
  }
  if (head && (head.version !== events.length || head.hash !== prev)) {
    const last = events[events.length - 1];
    return {
      streamId: last?.streamId ?? '?',
      version: head.version,
      eventId: last?.eventId ?? '',
      reason: 'stream head does not match the last event (tail removed?)',
    };
  }
  return undefined;
}

/**
 * Walks one stream, or every stream, in batches. Streams are taken from the events table as well
 * as the heads table, so a stream whose head row was deleted is still walked (and named: a stream
 * with events has a head).
 */
export async function verifyChain(q: Queryable, streamId?: string): Promise<ChainReport> {
  const heads = await q.query(
    streamId
      ? sql`SELECT ${streamId}::text AS stream_id, s.version, s.head_hash FROM (SELECT 1) one LEFT JOIN cutter.streams s ON s.stream_id = ${streamId}`
      : sql`SELECT e.stream_id, s.version, s.head_hash FROM (SELECT DISTINCT stream_id FROM cutter.events) e
            LEFT JOIN cutter.streams s ON s.stream_id = e.stream_id ORDER BY e.stream_id`,
  );
  let checked = 0;
  for (const head of heads) {
    if (head.version === null || head.version === undefined) {
      const [any] = await q.query(
        sql`SELECT event_id::text AS event_id, version FROM cutter.events WHERE stream_id = ${head.stream_id} ORDER BY version DESC LIMIT 1`,
      );
      if (!any) continue;
      return {
        ok: false,
        checked,
        firstBroken: {
          streamId: head.stream_id,
          version: Number(any.version),
          eventId: any.event_id,
          reason: 'the stream has events but no head row (deleted?)',
        },
      };
    }
    const rows = await q.query(sql`
      SELECT global_position, transaction_id::text AS transaction_id, stream_id, version, event_id::text AS event_id,
             type, data, metadata, recorded_at, prev_hash, hash
      FROM cutter.events WHERE stream_id = ${head.stream_id} ORDER BY version`);
    const events = rows.map(rowToEvent);
    checked += events.length;
    const broken = checkLinks(events, { version: Number(head.version), hash: head.head_hash });
    if (broken) return { ok: false, checked, firstBroken: broken };
  }
  return { ok: true, checked };
}
