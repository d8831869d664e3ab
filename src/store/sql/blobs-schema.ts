/**
 * Migration 4: content that is too large for an event — a large plan's change file, an encrypted
 * backup — kept in the store as append-only blobs: 1 MiB chunks, then a header row written last in
 * the same transaction (a blob without its header is not there). Backups reference their blob.
 */
export const BLOBS_SCHEMA = `
CREATE TABLE cutter.blob_chunks (
  blob_id text NOT NULL,
  seq     integer NOT NULL,
  data    bytea NOT NULL,
  PRIMARY KEY (blob_id, seq)
);

CREATE TABLE cutter.blobs (
  blob_id    text PRIMARY KEY,
  sha256     text NOT NULL,
  bytes      bigint NOT NULL,
  chunks     integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER blob_chunks_immutable BEFORE UPDATE OR DELETE ON cutter.blob_chunks
  FOR EACH ROW EXECUTE FUNCTION cutter.refuse_change();
CREATE TRIGGER blob_chunks_no_truncate BEFORE TRUNCATE ON cutter.blob_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION cutter.refuse_change();
CREATE TRIGGER blobs_immutable BEFORE UPDATE OR DELETE ON cutter.blobs
  FOR EACH ROW EXECUTE FUNCTION cutter.refuse_change();
CREATE TRIGGER blobs_no_truncate BEFORE TRUNCATE ON cutter.blobs
  FOR EACH STATEMENT EXECUTE FUNCTION cutter.refuse_change();

ALTER TABLE cutter.backups ALTER COLUMN ciphertext DROP NOT NULL;
ALTER TABLE cutter.backups ADD COLUMN blob_id text REFERENCES cutter.blobs (blob_id);
ALTER TABLE cutter.backups ADD CONSTRAINT backups_has_ciphertext CHECK (ciphertext IS NOT NULL OR blob_id IS NOT NULL);
`;
