/**
 * The inline projection: the store runs it inside every append's transaction, refolding each touched
 * cut stream (src/projections/cuts.ts) into `cutter.projection_rows` and claiming or freeing the
 * cut's target in `cutter.active_target_runs`, whose primary key on the target makes "at most one
 * live run per target" a database fact — a second cut's LiveRunStarted on a busy target rolls back.
 */
import { GovernanceRefusedError } from '../errors.js';
import { sql, type Queryable } from '../store/connection.js';
import type { InlineProjection, StoredEvent } from '../store/index.js';
import { readStream } from '../store/read.js';
import { holdsTarget, projectCut } from './cuts.js';
import { cutIdOf, isCutStream } from '../../events/streams.js';

/** Writes the rows of one cut stream (replacing its previous rows) and claims or frees its target. */
export async function writeCutRows(q: Queryable, streamId: string, events: StoredEvent[]): Promise<void> {
  const { cut, runs } = projectCut(streamId, events);
  await q.query(sql`DELETE FROM cutter.projection_rows WHERE stream_id = ${streamId}`);
  const rows = [{ projection: 'cuts', ...cut }, ...runs.map((r) => ({ projection: 'runs', ...r }))];
  await q.query(sql`
    INSERT INTO cutter.projection_rows (projection, row_key, stream_id, row)
    SELECT p, k, ${streamId}, r FROM unnest(${rows.map((r) => r.projection)}::text[],
    ${rows.map((r) => r.key)}::text[], ${rows.map((r) => JSON.stringify(r.row))}::jsonb[]) AS x(p, k, r)`);
  const state = String(cut.row.state);
  const target = String(cut.row.target);
  const cutId = cut.key;
  if (holdsTarget(state)) {
    await q.query(
      sql`INSERT INTO cutter.active_target_runs (target, cut_id, run_id)
        VALUES (${target}, ${cutId}, ${String(cut.row.runId)}) ON CONFLICT (target) DO NOTHING`,
    );
    const [owner] = await q.query(sql`SELECT cut_id FROM cutter.active_target_runs WHERE target = ${target}`);
    if (owner && owner.cut_id !== cutId)
      throw new GovernanceRefusedError(`target busy with cut ${owner.cut_id}`, [
        `target ${target} is busy with cut ${owner.cut_id}`,
      ]);
    await q.query(
      sql`UPDATE cutter.active_target_runs SET run_id = ${String(cut.row.runId)} WHERE target = ${target}
        AND cut_id = ${cutId}`,
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
          sql`SELECT row->>'target' AS target FROM cutter.projection_rows WHERE projection = 'cuts'
            AND row_key = ${cutIdOf(streamId)}`,
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
