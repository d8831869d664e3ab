/**
 * An async projection: activity per target (cuts planned, live runs, rows written, reverts, last
 * event), maintained by a follower from the global log rather than inside appends.
 */
import { sql } from '../store/connection.js';
import type { AsyncProjector } from './follower.js';
import { cutIdOf, isCutStream } from '../../events/streams.js';
import { fieldOf } from '../../events/index.js';

export const activityProjector: AsyncProjector = {
  name: 'target_activity',
  async apply(tx, events) {
    const targets = new Map<string, string>();
    for (const e of events) {
      if (!isCutStream(e.streamId)) continue;
      const cutId = cutIdOf(e.streamId);
      let target = e.type === 'CutPlanned' ? String(fieldOf(e.data, 'target')) : targets.get(cutId);
      if (!target) {
        const [row] = await tx.query(
          sql`SELECT row->>'target' AS target FROM cutter.projection_rows WHERE projection = 'cuts'
            AND row_key = ${cutId}`,
        );
        target = row?.target ?? undefined;
      }
      if (!target) continue;
      targets.set(cutId, target);
      const delta = {
        cuts: e.type === 'CutPlanned' ? 1 : 0,
        liveRuns: e.type === 'LiveRunStarted' ? 1 : 0,
        rowsWritten:
          e.type === 'LegAWritten'
            ? Number(fieldOf(e.data, 'inserted')) +
              Number(fieldOf(e.data, 'updated')) +
              Number(fieldOf(e.data, 'deleted'))
            : 0,
        reverts: e.type === 'CutReverted' ? 1 : 0,
      };
      const row = { target, ...delta, lastEventAt: e.recordedAt, lastEvent: e.type };
      await tx.query(sql`
        INSERT INTO cutter.projection_rows (projection, row_key, stream_id, row)
        VALUES ('target_activity', ${target}, ${'*'}, ${JSON.stringify(row)}::jsonb)
        ON CONFLICT (projection, row_key) DO UPDATE SET row = jsonb_build_object(
          'target', ${target}::text,
          'cuts', (projection_rows.row->>'cuts')::int + ${delta.cuts}::int,
          'liveRuns', (projection_rows.row->>'liveRuns')::int + ${delta.liveRuns}::int,
          'rowsWritten', (projection_rows.row->>'rowsWritten')::int + ${delta.rowsWritten}::int,
          'reverts', (projection_rows.row->>'reverts')::int + ${delta.reverts}::int,
          'lastEventAt', ${e.recordedAt}::text, 'lastEvent', ${e.type}::text)`);
    }
  },
};
