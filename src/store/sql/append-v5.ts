/**
 * Migration 10: migration 9's append with one check first. The client sends the time it records
 * (`recorded_at`, inside each event's digest), and replay judges approval expiry by the times a
 * runner records: a runner whose clock was set back could record approvals as fresher than they
 * are (found by an insider review, fifth session). The function now refuses a recorded time more
 * than five minutes from the server's own clock (`CT425`, the difference in seconds; the client
 * names it, exit 3), before it takes the stream's lock or writes anything. Signature, results,
 * errors otherwise, SECURITY DEFINER, the pinned search_path and the plan settings are migration
 * 9's (CREATE OR REPLACE sets them all again, so all are given here).
 */
export const APPEND_V5 = `
CREATE OR REPLACE FUNCTION cutter.append_events(
  p_stream   text,
  p_expected text,
  p_ids      uuid[],
  p_types    text[],
  p_data     jsonb[],
  p_meta     jsonb[],
  p_digests  text[],
  p_recorded timestamptz
) RETURNS TABLE (
  r_global_position bigint, r_transaction_id text, r_version integer, r_prev_hash text, r_hash text, r_existing boolean
) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off AS $$
DECLARE
  n         integer := cardinality(p_ids);
  cur_ver   integer;
  cur_hash  text;
  has_head  boolean;
  notify    boolean;
  head_was  text;
  hashes    text[] := '{}';
  found_ids integer;
  i         integer;
  skew      double precision := extract(epoch FROM p_recorded - clock_timestamp());
BEGIN
  -- The time the client records must be the server's, within five minutes either way: a runner
  -- whose clock was set back (the system clock, libfaketime) cannot record approvals as fresher than
  -- they are. clock_timestamp(), not now(): a caller's transaction may have begun long before.
  IF skew IS NULL OR abs(skew) > 300 THEN
    RAISE EXCEPTION USING ERRCODE = 'CT425', MESSAGE = coalesce(round(skew)::text, 'null');
  END IF;
  -- Serialise appenders of this stream BEFORE this transaction writes anything: an advisory lock
  -- assigns no transaction id, so per stream, transaction-id order equals version order and the
  -- global (transaction id, position) cursor yields each stream in version order. Every statement
  -- below takes a snapshot after the lock, so it sees the previous appender's committed head.
  PERFORM pg_advisory_xact_lock(hashtextextended('cutter.stream:' || p_stream, 0));
  SELECT coalesce(s.version, 0), s.head_hash, s.stream_id IS NOT NULL, EXISTS (SELECT 1 FROM cutter.subscribers),
         (SELECT count(*) FROM cutter.events e WHERE e.event_id = ANY (p_ids))
    INTO cur_ver, cur_hash, has_head, notify, found_ids
    FROM (SELECT) AS one LEFT JOIN cutter.streams AS s ON s.stream_id = p_stream;

  IF found_ids > 0 THEN
    IF found_ids = n AND NOT EXISTS (
      SELECT 1 FROM unnest(p_ids, p_types, p_data) AS x(id, t, d)
      JOIN cutter.events e ON e.event_id = x.id
      WHERE e.stream_id <> p_stream OR e.type <> x.t OR e.data <> x.d
    ) THEN
      RETURN QUERY SELECT e.global_position, e.transaction_id::text, e.version, e.prev_hash, e.hash, true
        FROM cutter.events e WHERE e.event_id = ANY (p_ids) ORDER BY e.version;
      RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'CT422', MESSAGE = 'event id already used for different content';
  END IF;

  IF (p_expected = 'no_stream' AND cur_ver <> 0)
     OR (p_expected = 'exists' AND cur_ver = 0)
     OR (p_expected ~ '^[0-9]+$' AND cur_ver <> p_expected::integer) THEN
    RAISE EXCEPTION USING ERRCODE = 'CT409', MESSAGE = cur_ver::text;
  END IF;
  IF n = 0 THEN
    RETURN;
  END IF;

  head_was := cur_hash;
  FOR i IN 1 .. n LOOP
    cur_hash := encode(sha256(convert_to(coalesce(cur_hash, '') || '|' || p_stream || '|' || (cur_ver + i) || '|' || p_digests[i], 'UTF8')), 'hex');
    hashes := hashes || cur_hash;
  END LOOP;

  IF n = 1 THEN
    -- One event (most appends): a single-row VALUES, without unnest's seven-array function scan.
    RETURN QUERY
      INSERT INTO cutter.events AS e (stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
      VALUES (p_stream, cur_ver + 1, p_ids[1], p_types[1], p_data[1], p_meta[1], p_recorded, p_digests[1], head_was, cur_hash)
      RETURNING e.global_position, e.transaction_id::text, e.version, e.prev_hash, e.hash, false;
  ELSE
    RETURN QUERY
      INSERT INTO cutter.events AS e (stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
      SELECT p_stream, cur_ver + x.ord, x.id, x.t, x.d, x.m, p_recorded, x.dg, x.pv, x.h
        FROM unnest(p_ids, p_types, p_data, p_meta, p_digests, (ARRAY[head_was] || hashes)[1:n], hashes)
             WITH ORDINALITY AS x(id, t, d, m, dg, pv, h, ord)
      RETURNING e.global_position, e.transaction_id::text, e.version, e.prev_hash, e.hash, false;
  END IF;

  IF has_head THEN
    UPDATE cutter.streams SET version = cur_ver + n, head_hash = cur_hash, updated_at = now() WHERE stream_id = p_stream;
  ELSE
    INSERT INTO cutter.streams (stream_id, version, head_hash) VALUES (p_stream, n, cur_hash);
  END IF;
  IF notify THEN
    PERFORM pg_notify('cutter_events', p_stream);
  END IF;
END $$;
`;
