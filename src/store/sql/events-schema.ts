/** Migration 1: the event log, stream heads, the backup vault, and the database refusing edits. */
export const EVENTS_SCHEMA = `
CREATE TABLE cutter.streams (
  stream_id  text PRIMARY KEY,
  version    integer NOT NULL DEFAULT 0,
  head_hash  text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cutter.events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_id       text NOT NULL,
  version         integer NOT NULL CHECK (version >= 1),
  event_id        uuid NOT NULL UNIQUE,
  type            text NOT NULL,
  data            jsonb NOT NULL,
  metadata        jsonb NOT NULL,
  recorded_at     timestamptz NOT NULL,
  digest          text NOT NULL,
  prev_hash       text,
  hash            text NOT NULL,
  UNIQUE (stream_id, version)
);
CREATE INDEX events_global_cursor ON cutter.events (transaction_id, global_position);

CREATE TABLE cutter.backups (
  backup_id        text PRIMARY KEY,
  cut_id           text NOT NULL,
  run_id           text NOT NULL,
  plaintext_sha256 text NOT NULL,
  row_count        integer NOT NULL,
  recipients       text[] NOT NULL,
  ciphertext       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION cutter.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'cutter: % on %.% is refused: the log is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON cutter.events
  FOR EACH ROW EXECUTE FUNCTION cutter.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON cutter.events
  FOR EACH STATEMENT EXECUTE FUNCTION cutter.refuse_change();
CREATE TRIGGER backups_immutable BEFORE UPDATE OR DELETE ON cutter.backups
  FOR EACH ROW EXECUTE FUNCTION cutter.refuse_change();
CREATE TRIGGER backups_no_truncate BEFORE TRUNCATE ON cutter.backups
  FOR EACH STATEMENT EXECUTE FUNCTION cutter.refuse_change();
`;
