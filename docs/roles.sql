-- Least-privilege roles for cutter. Three parts, each run where its heading says; test/int/roles.int.test.ts
-- runs this very file. Replace the passwords; keep them out of the config (use env:VAR URLs).
--
-- The store writer can INSERT and SELECT events, backups and blobs but never UPDATE, DELETE or TRUNCATE them
-- (the BEFORE triggers refuse those for every role as well; only a superuser disabling triggers can edit,
-- and the hash chain then names the edited event).

-- @part roles: as a superuser, in the store database
CREATE ROLE cutter_store_owner LOGIN PASSWORD 'change-me';
CREATE ROLE cutter_store_writer LOGIN PASSWORD 'change-me';
CREATE ROLE cutter_target LOGIN PASSWORD 'change-me';
GRANT CREATE ON DATABASE cutter_store TO cutter_store_owner;

-- @part store: as cutter_store_owner, after `CUTTER_STORE_URL=postgres://cutter_store_owner@…/cutter_store cutter init`
GRANT USAGE ON SCHEMA cutter TO cutter_store_writer;
GRANT SELECT, INSERT ON cutter.events, cutter.backups, cutter.blobs, cutter.blob_chunks TO cutter_store_writer;
GRANT SELECT, INSERT, UPDATE ON cutter.streams TO cutter_store_writer;
GRANT SELECT ON cutter.migrations TO cutter_store_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON cutter.projection_rows, cutter.active_target_runs, cutter.checkpoints, cutter.subscribers TO cutter_store_writer;
GRANT EXECUTE ON FUNCTION cutter.append_events(text, text, uuid[], text[], jsonb[], jsonb[], text[], timestamptz) TO cutter_store_writer;

-- @part target: as the table's owner, in the target database, after `cutter target prepare <name>`
GRANT USAGE ON SCHEMA public TO cutter_target;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.documents TO cutter_target;
GRANT SELECT, INSERT ON public.cutter_ledger, public.cutter_receipts TO cutter_target;
GRANT USAGE ON SEQUENCE public.cutter_ledger_id_seq TO cutter_target;
