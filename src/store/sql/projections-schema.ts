/**
 * Migration 3: read models. One generic table of projection rows (a row is a pure function of one
 * stream: see src/projections), checkpoints for async projectors, and the active-run table whose
 * primary key makes "at most one live run per target" a database fact.
 */
export const PROJECTIONS_SCHEMA = `
CREATE TABLE cutter.projection_rows (
  projection text NOT NULL,
  row_key    text NOT NULL,
  stream_id  text NOT NULL,
  row        jsonb NOT NULL,
  PRIMARY KEY (projection, row_key)
);
CREATE INDEX projection_rows_stream ON cutter.projection_rows (projection, stream_id);

CREATE TABLE cutter.checkpoints (
  projector  text PRIMARY KEY,
  txid       xid8 NOT NULL,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cutter.active_target_runs (
  target  text PRIMARY KEY,
  cut_id  text NOT NULL,
  run_id  text NOT NULL,
  since   timestamptz NOT NULL DEFAULT now()
);
`;
