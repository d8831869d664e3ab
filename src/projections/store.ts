/**
 * Where projections live: `cutter.projection_rows` (one generic table: projection, key, stream, row)
 * and `cutter.active_target_runs`, whose primary key on the target makes "at most one live run per
 * target" a database fact — the inline projection claims the target inside the append's
 * transaction, so a second cut's LiveRunStarted on a busy target rolls back.
 */
import { GovernanceRefusedError } from '../errors.js';
import { sql, type Queryable } from '../store/connection.js';
import type { InlineProjection, StoredEvent } from '../store/index.js';
import { readStream } from '../store/read.js';
import type { ProjectionEvent } from './projection.js';
import { holdsTarget, projectCut } from './cuts.js';
import { CUT_STREAM_PREFIX, cutIdOf, isCutStream } from '../../events/streams.js';

/** Writes the rows of one cut stream (replacing its previous rows) and claims or frees its target. */
export async function writeCutRows(q: Queryable, streamId: string, events: StoredEvent[]): Promise<void> {
  const { cut, runs } = projectCut(streamId, events);
  await q.query(sql`DELETE FROM cutter.projection_rows WHERE stream_id = ${streamId}`);
  const rows = [{ projection: 'cuts', ...cut }, ...runs.map((r) => ({ projection: 'runs', ...r }))];
  await q.query(sql`
    INSERT INTO cutter.projection_rows (projection, row_key, stream_id, row)
    SELECT p, k, ${streamId}, r FROM unnest(${rows.map((r) => r.projection)}::text[], ${rows.map((r) => r.key)}::text[], ${rows.map((r) => JSON.stringify(r.row))}::jsonb[]) AS x(p, k, r)`);
  const state = String(cut.row.state);
  const target = String(cut.row.target);
  const cutId = cut.key;
  if (holdsTarget(state)) {
    await q.query(
      sql`INSERT INTO cutter.active_target_runs (target, cut_id, run_id) VALUES (${target}, ${cutId}, ${String(cut.row.runId)}) ON CONFLICT (target) DO NOTHING`,
    );
    const [owner] = await q.query(sql`SELECT cut_id FROM cutter.active_target_runs WHERE target = ${target}`);
    if (owner && owner.cut_id !== cutId)
      throw new GovernanceRefusedError(`target busy with cut ${owner.cut_id}`, [
        `target ${target} is busy with cut ${owner.cut_id}`,
      ]);
    await q.query(
      sql`UPDATE cutter.active_target_runs SET run_id = ${String(cut.row.runId)} WHERE target = ${target} AND cut_id = ${cutId}`,
    );
  } else {
    await q.query(sql`DELETE FROM cutter.active_target_runs WHERE cut_id = ${cutId}`);
  }
}

/** Events that may claim or free a target. */
const TARGET_EVENTS = new Set([
  'LiveRunStarted',
  'RunResumed',
  'RevertStarted',
  'LifecycleEnacted',
  'PhaseFailed',
  'VerifyFailed',
  'CutReverted',
  'RevertFailed',
  'CutPlanned',
]);

/** The inline projection the store runs inside every append's transaction. */
export const cutProjection: InlineProjection = {
  name: 'cuts',
  /**
   * Appends that can claim or free a target first take the target's advisory lock — before the
   * transaction writes anything, so it has no transaction id yet. Claims and releases of one target
   * therefore get transaction ids in the order they commit, and replay can check invariant 6 on
   * the commit-safe global order.
   */
  async before(tx, streamId, events) {
    if (!isCutStream(streamId) || !events.some((e) => TARGET_EVENTS.has(e.type))) return;
    const planned = events.find((e) => e.type === 'CutPlanned')?.data as { target?: string } | undefined;
    const [row] = planned
      ? []
      : await tx.query(
          sql`SELECT row->>'target' AS target FROM cutter.projection_rows WHERE projection = 'cuts' AND row_key = ${cutIdOf(streamId)}`,
        );
    const target = planned?.target ?? row?.target;
    if (target)
      await tx.query(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`cutter.target-claim:${target}`}, 0))`);
  },
  async handle(tx, events) {
    const streams = [...new Set(events.map((e) => e.streamId).filter((s) => isCutStream(s)))];
    for (const streamId of streams) await writeCutRows(tx, streamId, await readStream(tx, streamId));
  },
};

/** Streams folded per written batch, and events per cursor fetch, in `rebuildProjections`. */
export const REBUILD_BATCH_STREAMS = 1000;
export const REBUILD_FETCH_EVENTS = 10_000;

type RowRecord = { projection: string; row_key: string; stream_id: string; row: Record<string, unknown> };
type Claim = { target: string; cut_id: string; run_id: string };

/**
 * Truncates and refolds every projection from the log. The cut streams' events are read through
 * one server-side cursor ordered by stream and version (fetched in pages, the next page requested
 * before the current one is folded, so the server reads while Node folds); each stream is folded
 * exactly as the inline projection folds it (`projectCut`), and the rows of each batch of streams
 * are written with one `INSERT … SELECT FROM jsonb_array_elements` (plus one for the targets held),
 * while the next batch is folded,
 * instead of several statements per stream. A target claimed by two cuts still refuses the rebuild
 * with the error the inline projection raises. Returns counts.
 */
export async function rebuildProjections(
  db: Queryable & { tx: any },
  opts: { batchStreams?: number; fetchEvents?: number } = {},
): Promise<{ streams: number; events: number }> {
  const batchStreams = opts.batchStreams ?? REBUILD_BATCH_STREAMS;
  const fetchEvents = Math.max(1, Math.trunc(opts.fetchEvents ?? REBUILD_FETCH_EVENTS));
  return db.tx(async (tx: Queryable) => {
    await tx.query(sql`DELETE FROM cutter.projection_rows WHERE projection IN ('cuts', 'runs')`);
    await tx.query(sql`DELETE FROM cutter.active_target_runs`);
    // Async projections restart from the beginning of the log: their followers refold on next catch-up.
    await tx.query(
      sql`DELETE FROM cutter.projection_rows WHERE projection IN (SELECT projector FROM cutter.checkpoints)`,
    );
    await tx.query(sql`DELETE FROM cutter.checkpoints`);
    // Planned as an ordered scan of the (stream_id, version) index, so rows stream from the first
    // FETCH instead of after a sort of the whole log (which spills to disk on a large one).
    const [{ sort }] = await tx.query(
      sql`SELECT current_setting('enable_sort') AS sort, set_config('enable_sort', 'off', true)`,
    );
    await tx.query(sql`
      DECLARE cutter_rebuild NO SCROLL CURSOR FOR
      SELECT stream_id, version, type, data, metadata, recorded_at, global_position FROM cutter.events
      WHERE stream_id LIKE ${CUT_STREAM_PREFIX + '%'} ORDER BY stream_id, version`);
    await tx.query(sql`SELECT set_config('enable_sort', ${String(sort)}, true)`);
    const fetch = () => {
      const page = tx.query(sql`FETCH ${sql.__dangerous__rawValue(String(fetchEvents))} FROM cutter_rebuild`);
      page.catch(() => undefined); // awaited below; a failure surfaces there
      return page;
    };
    let events = 0;
    let streams = 0;
    let rows: RowRecord[] = [];
    let claims: Claim[] = [];
    let batched = 0;
    const fold = (streamId: string, evs: ProjectionEvent[]) => {
      const { cut, runs } = projectCut(streamId, evs);
      rows.push({ projection: 'cuts', row_key: cut.key, stream_id: streamId, row: cut.row });
      for (const r of runs) rows.push({ projection: 'runs', row_key: r.key, stream_id: streamId, row: r.row });
      if (holdsTarget(String(cut.row.state)))
        claims.push({ target: String(cut.row.target), cut_id: cut.key, run_id: String(cut.row.runId) });
      streams++;
      batched++;
    };
    // A batch is written while the next one is folded; at most one write is in flight.
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      const [r, c] = [rows, claims];
      rows = [];
      claims = [];
      batched = 0;
      await writing;
      writing = (async () => {
        if (r.length) await writeRows(tx, r);
        if (c.length) await claimTargets(tx, c);
      })();
      writing.catch(() => undefined); // awaited at the next flush or at the end
    };
    // A failed write aborts the transaction, so a later query fails too: report the write's error.
    const settle = async <T>(p: Promise<T>): Promise<T> => {
      try {
        return await p;
      } catch (err) {
        await writing;
        throw err;
      }
    };
    // Events of the last stream of a page, which may continue on the next page.
    let carry: ProjectionEvent[] = [];
    let next = fetch();
    for (;;) {
      const got = await settle(next);
      const done = got.length < fetchEvents;
      if (!done) next = fetch();
      events += got.length;
      const page = carry.concat(got.map(toProjectionEvent));
      // Fold every stream complete on this page; keep the last one unless the log is exhausted.
      let end = page.length;
      if (!done && end > 0) while (end > 0 && page[end - 1]!.streamId === page[page.length - 1]!.streamId) end--;
      for (let i = 0; i < end;) {
        const streamId = page[i]!.streamId;
        let j = i + 1;
        while (j < end && page[j]!.streamId === streamId) j++;
        fold(streamId, page.slice(i, j));
        i = j;
        if (batched >= batchStreams) await flush();
      }
      carry = page.slice(end);
      if (done) break;
    }
    await flush();
    await writing;
    await tx.query(sql`CLOSE cutter_rebuild`);
    return { streams, events };
  });
}

function toProjectionEvent(r: any): ProjectionEvent {
  return {
    streamId: r.stream_id,
    version: r.version,
    type: r.type,
    data: r.data,
    metadata: r.metadata,
    recordedAt: (r.recorded_at as Date).toISOString(),
    globalPosition: String(r.global_position),
  };
}

/** One statement for a batch of projection rows (`jsonb_array_elements` parses the batch once; faster than `jsonb_to_recordset` here). */
async function writeRows(q: Queryable, rows: RowRecord[]): Promise<void> {
  await q.query(sql`
    INSERT INTO cutter.projection_rows (projection, row_key, stream_id, row)
    SELECT x->>'projection', x->>'row_key', x->>'stream_id', x->'row' FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) AS x`);
}

/** Claims the targets a batch of cuts hold; refuses (as the inline projection does) when one is held by another cut. */
async function claimTargets(q: Queryable, claims: Claim[]): Promise<void> {
  const json = JSON.stringify(claims);
  await q.query(sql`
    INSERT INTO cutter.active_target_runs (target, cut_id, run_id)
    SELECT target, cut_id, run_id FROM jsonb_to_recordset(${json}::jsonb) AS x(target text, cut_id text, run_id text)
    ON CONFLICT (target) DO NOTHING`);
  const [busy] = await q.query(sql`
    SELECT x.target, a.cut_id FROM ROWS FROM (jsonb_to_recordset(${json}::jsonb) AS (target text, cut_id text)) WITH ORDINALITY AS x(target, cut_id, n)
    JOIN cutter.active_target_runs a ON a.target = x.target
    WHERE a.cut_id <> x.cut_id ORDER BY x.n LIMIT 1`);
  if (busy)
    throw new GovernanceRefusedError(`target busy with cut ${busy.cut_id}`, [
      `target ${busy.target} is busy with cut ${busy.cut_id}`,
    ]);
}

export interface StoredRows {
  cuts: Record<string, unknown>[];
  runs: Record<string, unknown>[];
}

/** Stored rows of one projection, optionally of one stream. */
export async function projectionRows(
  q: Queryable,
  projection: 'cuts' | 'runs' | 'target_activity',
  streamId?: string,
): Promise<Record<string, any>[]> {
  const rows = await q.query(
    streamId
      ? sql`SELECT row FROM cutter.projection_rows WHERE projection = ${projection} AND stream_id = ${streamId} ORDER BY row_key COLLATE "C"`
      : sql`SELECT row FROM cutter.projection_rows WHERE projection = ${projection} ORDER BY row->>'updatedAt' DESC NULLS LAST, row_key`,
  );
  return rows.map((r) => r.row);
}
