/**
 * Where projections live: `cutter.projection_rows` (one generic table: projection, key, stream, row)
 * and `cutter.active_target_runs` (the targets live cuts hold). This module only gathers the entry
 * points, one module per job: the inline projection maintained inside appends (./inline.ts), the
 * rebuild of every projection from the log (./rebuild.ts) and reading the stored rows (./rows.ts).
 */
export { cutProjection, writeCutRows } from './inline.js';
export {
  REBUILD_BATCH_STREAMS,
  REBUILD_FETCH_EVENTS,
  rebuildProjections,
  type RebuildOptions,
  type RebuildResult,
} from './rebuild.js';
export { projectionRows, type StoredRows } from './rows.js';
