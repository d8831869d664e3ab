/**
 * The rows of a projection are a pure fold of ONE stream's events (src/projections/cuts.ts).
 * Because a row is a function of its stream alone, the same code maintains it inline (refold the
 * touched stream inside the append's transaction), rebuilds it (stream after stream, in batches)
 * and lets replay prove the stored rows equal a fresh fold.
 */
export interface ProjectionEvent {
  streamId: string;
  version: number;
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  recordedAt: string;
  globalPosition: string;
}

export interface ProjectionRow {
  /** Unique within the projection, e.g. the cut id or `<runId>/<phase>`. */
  key: string;
  row: Record<string, unknown>;
}
