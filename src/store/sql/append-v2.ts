/**
 * Migration 5: cheaper appends, measured (docs/BENCHMARKS.md).
 * - NOTIFY only when someone follows: followers register their backend in `cutter.subscribers`
 *   before they catch up, so an append that sees no subscriber has no one to wake (a follower also
 *   polls). NOTIFY serialises every notifying commit on one server-wide queue lock.
 * - The stream head is no longer locked FOR UPDATE: the per-stream advisory lock taken first
 *   already serialises appenders of a stream.
 * - The global cursor's index becomes the primary key (transaction_id, global_position): one
 *   index fewer to maintain per event.
 * Written out in full (the function body is migration 2's with those two edits): an applied
 * migration's text never changes, and test/unit/migrations.unit.test.ts freezes each by checksum.
 */
export const APPEND_V2 = `
CREATE TABLE cutter.subscribers (
  backend_pid integer PRIMARY KEY,
  since       timestamptz NOT NULL DEFAULT now()
);

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
) LANGUAGE plpgsql AS $$
DECLARE
  n         integer := cardinality(p_ids);
  found_ids integer;
  cur_ver   integer;
  cur_hash  text;
  hashes    text[] := '{}';
  prevs     text[] := '{}';
  h         text;
  i         integer;
BEGIN
  -- Serialise appenders of this stream BEFORE this transaction writes anything: an advisory lock
  -- assigns no transaction id, so per stream, transaction-id order equals version order and the
  -- global (transaction id, position) cursor yields each stream in version order.
  PERFORM pg_advisory_xact_lock(hashtextextended('cutter.stream:' || p_stream, 0));
  SELECT count(*) INTO found_ids FROM cutter.events e WHERE e.event_id = ANY (p_ids);
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

  INSERT INTO cutter.streams AS s (stream_id) VALUES (p_stream) ON CONFLICT (stream_id) DO NOTHING;
  SELECT s.version, s.head_hash INTO cur_ver, cur_hash FROM cutter.streams s WHERE s.stream_id = p_stream;

  IF (p_expected = 'no_stream' AND cur_ver <> 0)
     OR (p_expected = 'exists' AND cur_ver = 0)
     OR (p_expected ~ '^[0-9]+$' AND cur_ver <> p_expected::integer) THEN
    RAISE EXCEPTION USING ERRCODE = 'CT409', MESSAGE = cur_ver::text;
  END IF;

  FOR i IN 1 .. n LOOP
    h := encode(sha256(convert_to(coalesce(cur_hash, '') || '|' || p_stream || '|' || (cur_ver + i) || '|' || p_digests[i], 'UTF8')), 'hex');
    prevs := prevs || cur_hash;
    hashes := hashes || h;
    cur_hash := h;
  END LOOP;

  RETURN QUERY
    INSERT INTO cutter.events AS e (stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
    SELECT p_stream, cur_ver + x.ord, x.id, x.t, x.d, x.m, p_recorded, x.dg, x.pv, x.h
      FROM unnest(p_ids, p_types, p_data, p_meta, p_digests, prevs, hashes) WITH ORDINALITY AS x(id, t, d, m, dg, pv, h, ord)
    RETURNING e.global_position, e.transaction_id::text, e.version, e.prev_hash, e.hash, false;

  UPDATE cutter.streams SET version = cur_ver + n, head_hash = cur_hash, updated_at = now() WHERE stream_id = p_stream;
  IF EXISTS (SELECT 1 FROM cutter.subscribers) THEN
    PERFORM pg_notify('cutter_events', p_stream);
  END IF;
END $$;

ALTER TABLE cutter.events DROP CONSTRAINT events_pkey;
ALTER TABLE cutter.events ADD CONSTRAINT events_pkey PRIMARY KEY (transaction_id, global_position);
DROP INDEX cutter.events_global_cursor;
`;
