/**
 * Reading projections: the stored rows of one projection (`cuts`, `runs`, `target_activity`) from
 * `cutter.projection_rows`, newest first or of one stream.
 */
import { sql, type Queryable } from '../store/connection.js';

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
      ? sql`SELECT row FROM cutter.projection_rows WHERE projection = ${projection} AND stream_id = ${streamId}
        ORDER BY row_key COLLATE "C"`
      : sql`SELECT row FROM cutter.projection_rows WHERE projection = ${projection}
        ORDER BY row->>'updatedAt' DESC NULLS LAST, row_key`,
  );
  return rows.map((r) => r.row);
}
