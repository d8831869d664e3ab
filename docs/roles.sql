-- Least-privilege roles for cutter. Three parts, each run where its heading says; test/int/roles.int.test.ts
-- runs this very file (and attacks it). Replace the passwords; keep them out of the config (use env:VAR URLs).
--
-- What each store role can and cannot do (PostgreSQL enforces all of it; store migration 6):
--
-- cutter_store_writer (what `cutter` runs as day to day):
--   * Events and stream heads: SELECT only. It appends ONLY by calling cutter.append_events, a SECURITY
--     DEFINER function owned by cutter_store_owner, with search_path pinned to pg_catalog, pg_temp, every
--     table schema-qualified and no dynamic SQL. No direct INSERT on cutter.events, no INSERT, UPDATE or
--     DELETE on cutter.streams, no TRIGGER on either; PUBLIC has no EXECUTE on the function.
--   * The function, not the writer, decides each event's version, prev_hash, hash, global position and
--     transaction id, checks the expected version (CT409) and event-id idempotency (CT422), and moves the
--     head. So the writer cannot skip or reuse a version, choose a hash, or reset a head.
--   * The function does NOT recompute the digest the writer passes (canonical JSON is computed in Node):
--     an event appended with a digest that does not match its content is stored, chained after it, and
--     reported by `cutter replay` (chain check: "hash does not match the event's content"). Nor does the
--     database judge what the writer appends (type, data, metadata, recorded_at): authority comes from
--     the enrolled-key signature on every event, checked by replay (DESIGN.md section 7); an unsigned or
--     wrongly signed event is a replay violation.
--   * backups, blobs, blob_chunks: SELECT, INSERT (written directly; never UPDATE, DELETE or TRUNCATE:
--     privileges and BEFORE triggers both refuse). Replay checks a backup against its run by hash.
--   * projection_rows, checkpoints, active_target_runs, subscribers: read and write. These are read
--     models and coordination rows rebuilt from the events, not evidence; replay never trusts them.
--
-- cutter_store_owner (runs `cutter init`, i.e. the migrations; not a superuser) owns the tables, the
--   triggers and the function. The database cannot stop its owner, nor a superuser: the owner can
--   ALTER TABLE cutter.events DISABLE TRIGGER events_immutable, then UPDATE or DELETE events and rewrite
--   stream heads, recomputing the hash chain so that it verifies again. What still catches such a
--   rewrite is outside the owner's reach: event signatures (it cannot re-sign without members' private
--   keys), signed checkpoints of stream heads kept outside the store (issue #14), and the leg-B ledger
--   row each live run writes in the target. Keep this role's password off the machines that run cuts.

-- @part roles: as a superuser, in the store database
CREATE ROLE cutter_store_owner LOGIN PASSWORD 'change-me';
CREATE ROLE cutter_store_writer LOGIN PASSWORD 'change-me';
CREATE ROLE cutter_target LOGIN PASSWORD 'change-me';
GRANT CREATE ON DATABASE cutter_store TO cutter_store_owner;
-- If the store was already initialized by another role (e.g. a superuser), make cutter_store_owner own it
-- before the next part: ALTER SCHEMA cutter OWNER TO cutter_store_owner, then ALTER TABLE … OWNER TO and
-- ALTER FUNCTION … OWNER TO for every table and function in schema cutter (the append function then runs
-- as cutter_store_owner).

-- @part store: as cutter_store_owner, after `CUTTER_STORE_URL=postgres://cutter_store_owner@…/cutter_store cutter init`
GRANT USAGE ON SCHEMA cutter TO cutter_store_writer;
GRANT SELECT ON cutter.events, cutter.streams TO cutter_store_writer;
GRANT SELECT, INSERT ON cutter.backups, cutter.blobs, cutter.blob_chunks TO cutter_store_writer;
GRANT SELECT ON cutter.migrations TO cutter_store_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON cutter.projection_rows, cutter.active_target_runs, cutter.checkpoints, cutter.subscribers TO cutter_store_writer;
GRANT EXECUTE ON FUNCTION cutter.append_events(text, text, uuid[], text[], jsonb[], jsonb[], text[], timestamptz) TO cutter_store_writer;

-- @part target: as the table's owner, in the target database, after `cutter target prepare <name>`
GRANT USAGE ON SCHEMA public TO cutter_target;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.documents TO cutter_target;
GRANT SELECT, INSERT ON public.cutter_ledger, public.cutter_receipts TO cutter_target;
GRANT USAGE ON SEQUENCE public.cutter_ledger_id_seq TO cutter_target;
