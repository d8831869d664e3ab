/**
 * Where projections live: `cutter.projection_rows` (one generic table: projection, key, stream, row)
 * and `cutter.active_target_runs`, whose primary key on the target makes "at most one live run per
 * target" a database fact — the inline projection claims the target inside the append's
 * transaction, so a second cut's LiveRunStarted on a busy target rolls back.
 */
import { GovernanceRefusedError } from '../errors.js';
import { sql, type Queryable } from '../store/connection.js';
import type { InlineProjection, StoredEvent } from '../store/index.js';
import { readStream, listStreams } from '../store/read.js';
import { CUT_PREFIX, holdsTarget, projectCut } from './cuts.js';

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
    await q.query(sql`INSERT INTO cutter.active_target_runs (target, cut_id, run_id) VALUES (${target}, ${cutId}, ${String(cut.row.runId)}) ON CONFLICT (target) DO NOTHING`);
    const [owner] = await q.query(sql`SELECT cut_id FROM cutter.active_target_runs WHERE target = ${target}`);
    if (owner && owner.cut_id !== cutId) throw new GovernanceRefusedError(`target busy with cut ${owner.cut_id}`, [`target ${target} is busy with cut ${owner.cut_id}`]);
    await q.query(sql`UPDATE cutter.active_target_runs SET run_id = ${String(cut.row.runId)} WHERE target = ${target} AND cut_id = ${cutId}`);
  } else {
    await q.query(sql`DELETE FROM cutter.active_target_runs WHERE cut_id = ${cutId}`);
  }
}

/** Events that may claim or free a target. */
const TARGET_EVENTS = new Set(['LiveRunStarted', 'RunResumed', 'RevertStarted', 'LifecycleEnacted', 'PhaseFailed', 'VerifyFailed', 'CutReverted', 'RevertFailed', 'CutPlanned']);

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
    if (!streamId.startsWith(CUT_PREFIX) || !events.some((e) => TARGET_EVENTS.has(e.type))) return;
    const planned = events.find((e) => e.type === 'CutPlanned')?.data as { target?: string } | undefined;
    const [row] = planned ? [] : await tx.query(sql`SELECT row->>'target' AS target FROM cutter.projection_rows WHERE projection = 'cuts' AND row_key = ${streamId.slice(CUT_PREFIX.length)}`);
    const target = planned?.target ?? row?.target;
    if (target) await tx.query(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`cutter.target-claim:${target}`}, 0))`);
  },
  async handle(tx, events) {
    const streams = [...new Set(events.map((e) => e.streamId).filter((s) => s.startsWith(CUT_PREFIX)))];
    for (const streamId of streams) await writeCutRows(tx, streamId, await readStream(tx, streamId));
  },
};

/** Truncates and refolds every projection from the log, stream by stream. Returns counts. */
export async function rebuildProjections(db: Queryable & { tx: any }): Promise<{ streams: number; events: number }> {
  return db.tx(async (tx: Queryable) => {
    await tx.query(sql`DELETE FROM cutter.projection_rows WHERE projection IN ('cuts', 'runs')`);
    await tx.query(sql`DELETE FROM cutter.active_target_runs`);
    // Async projections restart from the beginning of the log: their followers refold on next catch-up.
    await tx.query(sql`DELETE FROM cutter.projection_rows WHERE projection IN (SELECT projector FROM cutter.checkpoints)`);
    await tx.query(sql`DELETE FROM cutter.checkpoints`);
    let events = 0;
    const streams = await listStreams(tx, CUT_PREFIX);
    for (const s of streams) {
      const evs = await readStream(tx, s.streamId);
      events += evs.length;
      await writeCutRows(tx, s.streamId, evs);
    }
    return { streams: streams.length, events };
  });
}

export interface StoredRows {
  cuts: Record<string, unknown>[];
  runs: Record<string, unknown>[];
}

/** Stored rows of one projection, optionally of one stream. */
export async function projectionRows(q: Queryable, projection: 'cuts' | 'runs' | 'target_activity', streamId?: string): Promise<Record<string, any>[]> {
  const rows = await q.query(
    streamId
      ? sql`SELECT row FROM cutter.projection_rows WHERE projection = ${projection} AND stream_id = ${streamId} ORDER BY row_key COLLATE "C"`
      : sql`SELECT row FROM cutter.projection_rows WHERE projection = ${projection} ORDER BY row->>'updatedAt' DESC NULLS LAST, row_key`,
  );
  return rows.map((r) => r.row);
}
