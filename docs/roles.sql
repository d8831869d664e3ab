-- Least-privilege roles for cutter (run as a superuser or the database owner; adjust names and passwords).
--
-- Store database: an owner that runs migrations once, and a writer every runner uses day to day.
-- The writer can INSERT and SELECT events and backups but never UPDATE, DELETE or TRUNCATE them
-- (the BEFORE triggers refuse those for every role as well; only a superuser disabling triggers can
-- edit, and the hash chain then names the edited event).

CREATE ROLE cutter_store_owner LOGIN PASSWORD 'change-me';
CREATE ROLE cutter_store_writer LOGIN PASSWORD 'change-me';
GRANT CREATE ON DATABASE cutter_store TO cutter_store_owner;   -- the owner creates schema "cutter" on first use
-- After `CUTTER_STORE_URL=postgres://cutter_store_owner@…/cutter_store cutter init` has migrated:
GRANT USAGE ON SCHEMA cutter TO cutter_store_writer;
GRANT SELECT, INSERT ON cutter.events, cutter.backups TO cutter_store_writer;
GRANT SELECT, INSERT, UPDATE ON cutter.streams TO cutter_store_writer;            -- stream heads (version, head hash)
GRANT SELECT ON cutter.migrations TO cutter_store_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON cutter.projection_rows, cutter.active_target_runs, cutter.checkpoints TO cutter_store_writer;
GRANT EXECUTE ON FUNCTION cutter.append_events(text, text, uuid[], text[], jsonb[], jsonb[], text[], timestamptz) TO cutter_store_writer;
REVOKE UPDATE, DELETE, TRUNCATE ON cutter.events, cutter.backups FROM PUBLIC, cutter_store_writer;

-- Target database: only what the live adapter needs on the configured table, and its evidence tables.
CREATE ROLE cutter_target LOGIN PASSWORD 'change-me';
GRANT USAGE ON SCHEMA public TO cutter_target;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.documents TO cutter_target;       -- the configured table
-- `cutter target prepare kb` run once by the table owner creates these; then:
GRANT SELECT, INSERT ON public.cutter_ledger, public.cutter_receipts TO cutter_target;
GRANT USAGE ON SEQUENCE public.cutter_ledger_id_seq TO cutter_target;
