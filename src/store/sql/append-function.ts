/**
 * Migration 2: `cutter.append_events`, the whole append in one round trip: idempotency by event id,
 * the expected-version check on the locked stream head, the hash chain link, one multi-row INSERT,
 * the head update, and a NOTIFY that fires on commit. Appenders of one stream are serialised by an
 * advisory lock taken before the first write (see the body).
 *
 * Chain link (verified independently in Node by chain.ts):
 *   hash = sha256(coalesce(prev_hash, '') || '|' || stream_id || '|' || version || '|' || digest)
 * where digest = sha256(canonical JSON of {eventId, type, data, metadata, recordedAt}), computed by
 * the appender. A conflict raises SQLSTATE CT409 with the actual version as its message; an event
 * id reused with other content raises CT422.
 */
export const APPEND_FUNCTION = `
CREATE FUNCTION cutter.append_events(
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
  SELECT s.version, s.head_hash INTO cur_ver, cur_hash FROM cutter.streams s WHERE s.stream_id = p_stream FOR UPDATE;

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
  PERFORM pg_notify('cutter_events', p_stream);
END $$;
`;
