/**
 * Migration 6: the only way in. `cutter.append_events` becomes SECURITY DEFINER, so a least-privilege
 * writer (docs/roles.sql) appends through it without holding INSERT on `cutter.events` or
 * INSERT/UPDATE on `cutter.streams`: it cannot insert an event with a hash of its choosing, skip a
 * version, or reset a stream head. The function runs with its owner's rights (the role that migrates,
 * the store owner), so:
 * - its `search_path` is pinned to `pg_catalog, pg_temp` (temporary schema last: no temp table or
 *   type can shadow anything; functions and operators are never looked up there). Its body names
 *   every table by schema (`cutter.events`, `cutter.streams`, `cutter.subscribers`) and everything
 *   else it calls (pg_advisory_xact_lock, hashtextextended, sha256, encode, convert_to, unnest,
 *   cardinality, pg_notify, now, the operators and casts) is built in, resolved in pg_catalog;
 * - it runs no dynamic SQL (no EXECUTE): arguments are only ever values;
 * - PUBLIC loses EXECUTE; docs/roles.sql grants it to the writer. The owner keeps it by ownership,
 *   so the default (embedded store, owner = connecting user) is unchanged.
 * A store migrated under the earlier docs/roles.sql may have granted a writer direct writes: every
 * role but the owner loses INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES and TRIGGER on events and
 * streams (TRIGGER matters: a trigger on these tables would run inside the function as the owner).
 * SELECT stays. Every statement here is idempotent. The body is migration 5's, unchanged.
 */
const SIGNATURE = 'cutter.append_events(text, text, uuid[], text[], jsonb[], jsonb[], text[], timestamptz)';

export const APPEND_DEFINER = `
ALTER FUNCTION ${SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION ${SIGNATURE} FROM PUBLIC;

DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT DISTINCT c.oid::regclass::text AS tbl, a.grantee
      FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
     WHERE c.oid IN ('cutter.events'::regclass, 'cutter.streams'::regclass)
       AND a.grantee <> c.relowner
       AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
  LOOP
    EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM %s', r.tbl,
      CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
  END LOOP;
END $$;
`;
