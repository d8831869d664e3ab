/**
 * A projection is a pure fold of ONE stream's events into read-model rows: `init`, `evolve`, `rows`.
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

export interface Projection<Acc = unknown> {
  name: string;
  /** Bump when the row shape changes: a rebuild is then required. */
  version: number;
  /** Whether this projection reads streams with this id at all. */
  handlesStream(streamId: string): boolean;
  init(streamId: string): Acc;
  evolve(acc: Acc, event: ProjectionEvent): Acc;
  rows(acc: Acc): ProjectionRow[];
}

/** Folds a stream's events through a projection. Pure. */
export function projectStream<A>(projection: Projection<A>, streamId: string, events: ProjectionEvent[]): ProjectionRow[] {
  let acc = projection.init(streamId);
  for (const e of events) acc = projection.evolve(acc, e);
  return projection.rows(acc);
}
